package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// replayBatch bounds one fetch of a replay; inactiveAfter is when the
// server removes a replay's consumer that was not deleted.
const (
	replayBatch   = 256
	inactiveAfter = 30 * time.Second
)

// ErrReplayTruncated marks a replay that stopped at its limit with more
// messages left in the stream.
var ErrReplayTruncated = errors.New("replay stopped at its limit")

// Replay reads the stored messages after sequence after whose topics match
// any of filters ("$share/" filters are skipped: a group's messages went to
// one member already) and calls fn for each in stream order, at most limit
// of them. It returns the last sequence of the stream when it started: a
// message after it arrives live. Each filter subject is read with its own
// short-lived consumer (nats-server 2.9 has one filter subject per
// consumer), so a replay reads only what matches, not the whole stream.
func (c *Conn) Replay(ctx context.Context, filters []string, after uint64, limit int, fn func(Delivery)) (uint64, error) {
	if err := c.ready(ctx); err != nil {
		return 0, err
	}
	st, err := c.js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("bus replay: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	if after >= last {
		return last, nil
	}
	got := map[uint64]Delivery{}
	truncated := false
	for _, f := range filters {
		if _, _, shared := SplitShare(f); shared {
			continue
		}
		subjects, err := FilterSubjects(f)
		if err != nil {
			return 0, err
		}
		for _, s := range subjects {
			full, err := c.readSubject(ctx, durableFilter(s), after, last, limit, got)
			if err != nil {
				return 0, err
			}
			truncated = truncated || full
		}
	}
	seqs := make([]uint64, 0, len(got))
	for seq := range got {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	if len(seqs) > limit {
		seqs, truncated = seqs[:limit], true
	}
	for _, seq := range seqs {
		fn(got[seq])
	}
	if truncated {
		return last, fmt.Errorf("%w: %d messages", ErrReplayTruncated, limit)
	}
	return last, nil
}

// readSubject adds to got the messages on one stream subject with
// sequences in (after, last], at most limit; full reports that it stopped
// at the limit. It reads with an ephemeral pull consumer (in memory, one
// replica, removed at the end or by the server after inactiveAfter).
func (c *Conn) readSubject(ctx context.Context, subject string, after, last uint64, limit int, got map[uint64]Delivery) (full bool, err error) {
	cons, err := c.js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       after + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: inactiveAfter,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return false, fmt.Errorf("bus replay %s: %w", subject, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.js.DeleteConsumer(dctx, StreamName, cons.CachedInfo().Name)
	}()
	n := 0
	for {
		batch, err := cons.FetchNoWait(replayBatch)
		if err != nil {
			return false, fmt.Errorf("bus replay %s: %w", subject, err)
		}
		count, done := 0, false
	read:
		for {
			var m jetstream.Msg
			var ok bool
			select {
			case m, ok = <-batch.Messages():
			case <-ctx.Done():
				return false, fmt.Errorf("bus replay %s: %w", subject, ctx.Err())
			}
			if !ok {
				break read
			}
			count++
			meta, err := m.Metadata()
			if err != nil || meta.Sequence.Stream > last {
				done = true
				continue
			}
			topic, err := Topic("fg." + strings.TrimPrefix(m.Subject(), PrefixDurable))
			if err != nil {
				continue
			}
			h := m.Headers()
			got[meta.Sequence.Stream] = Delivery{Topic: topic, Payload: m.Data(), ID: h.Get(HeaderID),
				Origin: h.Get(HeaderOrigin), Seq: meta.Sequence.Stream, QoS: 1}
			n++
			if meta.NumPending == 0 || meta.Sequence.Stream == last {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Errorf("bus replay %s: %w", subject, err)
		}
		if n >= limit {
			return true, nil
		}
		if done || count == 0 {
			return false, nil
		}
	}
}
