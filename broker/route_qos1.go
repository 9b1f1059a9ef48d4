package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// DurableBus is the optional Bus capability for QoS 1 across brokers:
// messages stored in a stream before PUBACK and replayed from a cursor.
// *bus.Conn implements it; without it QoS 1 crosses brokers as QoS 0.
type DurableBus interface {
	// PublishDurable stores a message and sends it live, returning its
	// stream sequence; an error wrapping bus.ErrStore means it was not
	// stored (within a bounded wait).
	PublishDurable(topic string, payload []byte) (uint64, error)
	// Replay calls fn for the stored messages after sequence after that
	// match filters, at most limit, and returns the stream's last
	// sequence when it started.
	Replay(ctx context.Context, filters []string, after uint64, limit int, fn func(bus.Delivery)) (uint64, error)
}

// SessionStore is the optional Bus capability that keeps persistent
// sessions' records (subscriptions and cursor) where every broker reads
// them. *bus.Conn implements it.
type SessionStore interface {
	LoadSession(ctx context.Context, clientID string) (bus.SessionRecord, uint64, error)
	SaveSession(ctx context.Context, clientID string, rec bus.SessionRecord, rev uint64) (uint64, error)
	DeleteSession(ctx context.Context, clientID string) error
}

// errBusDown: a QoS 1 message cannot be stored while the bus is
// unreachable.
var errBusDown = fmt.Errorf("%w: the bus is unreachable", bus.ErrStore)

var (
	_ DurableBus   = (*bus.Conn)(nil)
	_ SessionStore = (*bus.Conn)(nil)
)

// publishDurable stores a QoS >= 1 PUBLISH on the bus before mochi sends
// PUBACK. When the bus cannot store it, the publisher is not acknowledged:
// an MQTT 5 client gets PUBACK "unspecified error" (0x80); an MQTT 3.1.1
// client, which has no negative PUBACK, gets no PUBACK and its connection
// is closed, so it sends the message again when it reconnects. Either way
// nobody here receives it, so a retry does not duplicate it locally.
func (r *router) publishDurable(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	var seq uint64
	err := errBusDown
	if r.up.Load() { // refused at once while cut off, not after the store's wait
		start := time.Now()
		seq, err = r.durable.PublishDurable(pk.TopicName, pk.Payload)
		r.metrics.busStore.Observe(time.Since(start).Seconds())
	}
	switch {
	case err == nil:
		r.counts.stored.Inc()
		r.raiseSeq(seq)
		return pk, nil
	case errors.Is(err, bus.ErrTooLarge):
		r.metrics.bus.WithLabelValues("out", "too_large").Inc()
		r.log.Warn("message not sent to other brokers: over the bus payload limit", "client_id", cl.ID, "topic", pk.TopicName, "bytes", len(pk.Payload), "error", err)
		return pk, nil
	}
	r.metrics.bus.WithLabelValues("out", "store_failed").Inc()
	r.log.Warn("QoS 1 message refused: the bus could not store it", "client_id", cl.ID, "topic", pk.TopicName, "error", err)
	if cl.Properties.ProtocolVersion >= 5 && pk.FixedHeader.Qos == 1 {
		return pk, packets.ErrUnspecifiedError
	}
	cl.Stop(packets.ErrUnspecifiedError)
	return pk, packets.ErrRejectPacket
}

// raiseSeq records that a message with stream sequence seq was delivered
// here (or published here, to be delivered locally).
func (r *router) raiseSeq(seq uint64) {
	for {
		cur := r.lastSeq.Load()
		if seq <= cur || r.lastSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}
