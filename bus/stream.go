package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Durable (QoS >= 1) messages are stored in one JetStream stream under
// their own subjects, PrefixDurable followed by the message subject
// without its "fg." (so "fg.m.a.b" is stored as "fg.j.m.a.b"), and only
// then sent on the message subject for live delivery, with the stream
// sequence in HeaderSeq. Keeping QoS 0 out of the stream's subjects
// keeps it out of the stream.
const (
	PrefixDurable = "fg.j."
	StreamName    = "FLEETGATE_MSGS"
	HeaderSeq     = "Fg-Seq" // stream sequence of a durable message
	HeaderQoS     = "Fg-Qos" // "1" on durable messages
)

// Defaults for the durable path.
const (
	DefaultRetention      = 24 * time.Hour
	DefaultPublishTimeout = 30 * time.Second
	// maxPendingStores bounds the durable messages awaiting the stream's
	// acknowledgement per connection; past it StoreDurable waits a moment
	// and then fails.
	maxPendingStores = 16384
)

// ErrStore marks a durable message the bus could not store: the
// publisher must not be acknowledged.
var ErrStore = errors.New("bus could not store the message")

// DurableSubject returns the stream subject of a topic.
func DurableSubject(topic string) string {
	return PrefixDurable + strings.TrimPrefix(Subject(topic), "fg.")
}

// durableFilter returns the stream subject of a filter subject.
func durableFilter(subject string) string {
	return PrefixDurable + strings.TrimPrefix(subject, "fg.")
}

// ready creates the stream and the session bucket once; until it succeeds
// every durable call tries again, so that a broker started before NATS
// works once NATS is up.
func (c *Conn) ready(ctx context.Context) error {
	c.jsMu.Lock()
	defer c.jsMu.Unlock()
	if c.sessions != nil {
		return nil
	}
	if err := c.ensureStream(ctx); err != nil {
		return err
	}
	kv, err := c.ensureBucket(ctx)
	if err != nil {
		return err
	}
	c.sessions = kv
	return nil
}

// ensureStream creates the message stream with the most replicas the
// cluster offers up to c.replicas (0: three), or keeps the one that exists.
func (c *Conn) ensureStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:      StreamName,
		Subjects:  []string{PrefixDurable + ">"},
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		MaxAge:    c.retention,
		Storage:   jetstream.FileStorage,
	}
	err := withReplicas(c.replicas, func(r int) error {
		cfg.Replicas = r
		_, err := c.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("bus stream %s: %w", StreamName, err)
	}
	return nil
}

// withReplicas calls create with want replicas (0: up to three), and with
// fewer while the server says the cluster is too small for them.
func withReplicas(want int, create func(int) error) error {
	start := want
	if start <= 0 {
		start = 3
	}
	var err error
	for r := start; r >= 1; r-- {
		if err = create(r); err == nil {
			return nil
		}
		if want > 0 || !tooFewServers(err) {
			return err
		}
	}
	return err
}

// tooFewServers reports whether err says the replicas asked for exceed
// the servers there are.
func tooFewServers(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	// 10074: replicas > 1 without a cluster; 10023: insufficient resources.
	return api.ErrorCode == 10074 || api.ErrorCode == 10023
}

// ErrNotYet means a wait for a stored message's acknowledgement ended
// before the stream answered: the message may still be stored.
var ErrNotYet = errors.New("bus store not acknowledged yet")

// PublishDurable stores a message in the stream, waiting at most the
// publish timeout for the stream's acknowledgement (which, with
// replicas, means a majority of them hold it), then sends it for live
// delivery. It returns the stream sequence, or an error wrapping ErrStore
// (or ErrTooLarge) when the message was not stored.
func (c *Conn) PublishDurable(topic string, payload []byte) (uint64, error) {
	p, err := c.StoreDurable(topic, payload)
	if err != nil {
		return 0, err
	}
	return p.Await(context.Background())
}

// Pending is a durable message sent to the stream whose acknowledgement
// is awaited.
type Pending struct {
	c       *Conn
	fut     jetstream.PubAckFuture
	topic   string
	payload []byte
	id      string

	mu       sync.Mutex
	resolved bool
	seq      uint64
	err      error
}

// StoreDurable sends a message to the stream without waiting for its
// acknowledgement, which Await returns. The messages of one caller reach
// the stream in the order of its calls. An error wrapping ErrStore (or
// ErrTooLarge) means the message was not sent.
func (c *Conn) StoreDurable(topic string, payload []byte) (*Pending, error) {
	if err := c.checkSize(topic, payload); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.publishTimeout)
	defer cancel()
	if err := c.ready(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	id := nuid.Next()
	m := c.message(DurableSubject(topic), payload, id)
	fut, err := c.js.PublishMsgAsync(m, jetstream.WithMsgID(id), jetstream.WithExpectStream(StreamName))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return &Pending{c: c, fut: fut, topic: topic, payload: payload, id: id}, nil
}

// Await waits for the stream's acknowledgement, at most the publish
// timeout from StoreDurable, and returns the message's stream sequence or
// an error wrapping ErrStore. With the acknowledgement it sends the
// message for live delivery, once: a publisher that needs its messages
// delivered in order awaits them in order. When ctx ends first it returns
// an error wrapping ErrNotYet and may be called again.
func (p *Pending) Await(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resolved {
		return p.seq, p.err
	}
	select {
	case ack := <-p.fut.Ok():
		p.seq = ack.Sequence
		p.sendLive()
	case err := <-p.fut.Err():
		p.err = fmt.Errorf("%w: %w", ErrStore, err)
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrNotYet, ctx.Err())
	}
	p.resolved = true
	p.payload = nil
	return p.seq, p.err
}

// sendLive sends a stored message on its message subject with its stream
// sequence.
func (p *Pending) sendLive() {
	live := p.c.message(Subject(p.topic), p.payload, p.id)
	live.Header.Set(HeaderSeq, strconv.FormatUint(p.seq, 10))
	live.Header.Set(HeaderQoS, "1")
	if err := p.c.nc.PublishMsg(live); err != nil {
		// Stored: a subscriber's session replays it; live delivery is lost.
		p.c.log.Warn("durable message stored but not sent live", "topic", p.topic, "seq", p.seq, "error", err)
	}
}

// message builds a NATS message with this Conn's origin and a message ID.
func (c *Conn) message(subject string, payload []byte, id string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = payload
	m.Header.Set(HeaderOrigin, c.origin)
	m.Header.Set(HeaderID, id)
	return m
}

// checkSize refuses a message over the server's max payload.
func (c *Conn) checkSize(topic string, payload []byte) error {
	if max := c.nc.MaxPayload(); max > 0 && int64(len(payload)+len(topic)+96) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), max)
	}
	return nil
}
