package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrReplayTruncated marks a replay that stopped at its limit with more
// messages left in the stream.
var ErrReplayTruncated = errors.New("replay stopped at its limit")

// Replay reads the stored messages after sequence after whose topics match
// any of filters ("$share/" filters are skipped: a group's messages went to
// one member already) and calls fn for each in stream order, at most limit
// of them. It returns the last sequence of the stream when it started: a
// message after it arrives live. Each filter subject is read on its own
// (readSubject), so a replay reads only what matches, not the whole
// stream.
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
			full, err := c.readSubject(ctx, st, durableFilter(s), after, last, limit, got)
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
// at the limit. It asks the stream leader for the next message on the
// subject, one at a time: no consumer is created, so a replay needs
// nothing but a stream with a leader (a consumer may be placed on a
// replica that is down).
func (c *Conn) readSubject(ctx context.Context, st jetstream.Stream, subject string, after, last uint64, limit int, got map[uint64]Delivery) (full bool, err error) {
	n := 0
	for seq := after + 1; seq <= last; {
		if n >= limit {
			return true, nil
		}
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("bus replay %s: %w", subject, err)
		}
		if m.Sequence > last {
			return false, nil
		}
		seq = m.Sequence + 1
		topic, err := Topic("fg." + strings.TrimPrefix(m.Subject, PrefixDurable))
		if err != nil {
			continue
		}
		got[m.Sequence] = Delivery{Topic: topic, Payload: m.Data, ID: m.Header.Get(HeaderID),
			Origin: m.Header.Get(HeaderOrigin), Seq: m.Sequence, QoS: 1}
		n++
	}
	return false, nil
}
