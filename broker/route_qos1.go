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
	// StoreDurable sends a message to the stream; the returned Pending's
	// Await gives its stream sequence once stored (and then sends it
	// live), or an error wrapping bus.ErrStore. An error here wrapping
	// bus.ErrStore or bus.ErrTooLarge means it was not sent.
	StoreDurable(topic string, payload []byte) (*bus.Pending, error)
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

// storeFastWait is how long a QoS 1 PUBLISH waits in the publisher's
// read loop for the stream; a store that takes longer is finished by the
// publisher's store queue (route_store.go), and the read loop goes on.
const storeFastWait = time.Second

// publishDurable stores a QoS >= 1 PUBLISH on the bus before it is
// acknowledged and delivered here. Most stores finish within
// storeFastWait and mochi goes on as for any PUBLISH. A slower one, and
// every later one of the same publisher while it waits, goes to the
// publisher's store queue, which acknowledges and delivers them in order
// as the stream stores them (route_store.go): the device's other packets,
// PINGREQ included, are read meanwhile.
//
// When the bus cannot store a message, the publisher is not
// acknowledged: an MQTT 5 client gets PUBACK "unspecified error" (0x80);
// an MQTT 3.1.1 client, which has no negative PUBACK, gets no PUBACK and
// its connection is closed, so it sends the message again when it
// reconnects. Either way nobody here receives it, so a retry does not
// duplicate it locally. QoS 2 always waits in the read loop, within the
// bus's publish timeout.
//
// A message of the broker's own (an inline client: lifecycle events,
// published in a device's connect and disconnect) goes to its queue at
// once, and is delivered here whatever the bus says.
func (r *router) publishDurable(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !r.up.Load() { // refused at once while cut off, not after the store's wait
		return r.storeFailed(cl, pk, errBusDown)
	}
	start := time.Now()
	p, err := r.durable.StoreDurable(pk.TopicName, pk.Payload)
	switch {
	case errors.Is(err, bus.ErrTooLarge):
		r.metrics.bus.WithLabelValues("out", "too_large").Inc()
		r.log.Warn("message not sent to other brokers: over the bus payload limit", "client_id", cl.ID, "topic", pk.TopicName, "bytes", len(pk.Payload), "error", err)
		return pk, nil
	case err != nil:
		return r.storeFailed(cl, pk, err)
	}
	if pk.FixedHeader.Qos > 1 { // QoS 2's flow stays in mochi: wait here
		seq, err := p.Await(context.Background())
		return r.storedNow(cl, pk, start, seq, err)
	}
	// The broker's own messages (lifecycle events, published in a device's
	// connect and disconnect) never wait here: nothing acknowledges them.
	if !cl.Net.Inline && !r.stores.waiting(cl) {
		ctx, cancel := context.WithTimeout(context.Background(), storeFastWait)
		seq, err := p.Await(ctx)
		cancel()
		if !errors.Is(err, bus.ErrNotYet) {
			return r.storedNow(cl, pk, start, seq, err)
		}
	}
	r.stores.add(cl, queuedStore{pk: pk, pending: p, start: start})
	return pk, packets.ErrRejectPacket // the store queue finishes it
}

// storedNow ends a store awaited in mochi's read loop.
func (r *router) storedNow(cl *mqtt.Client, pk packets.Packet, start time.Time, seq uint64, err error) (packets.Packet, error) {
	r.metrics.busStore.Observe(time.Since(start).Seconds())
	if err != nil {
		return r.storeFailed(cl, pk, err)
	}
	r.stored(seq)
	return pk, nil
}

// stored counts a message the stream holds and raises the sequence the
// session checkpoints move to.
func (r *router) stored(seq uint64) {
	r.counts.stored.Inc()
	r.raiseSeq(seq)
}

// storeFailed refuses a PUBLISH the bus did not store, in mochi's read
// loop: mochi sends the MQTT 5 PUBACK 0x80.
func (r *router) storeFailed(cl *mqtt.Client, pk packets.Packet, err error) (packets.Packet, error) {
	switch r.refuse(cl, pk, err) {
	case deliverHere:
		return pk, nil
	case negativeAck:
		return pk, packets.ErrUnspecifiedError
	}
	return pk, packets.ErrRejectPacket
}

// refusal is what a publisher whose message the bus did not store gets.
type refusal int

const (
	deliverHere refusal = iota // the broker's own message: delivered on this broker anyway
	negativeAck                // MQTT 5 QoS 1: PUBACK 0x80, to be sent
	closed                     // MQTT 3.1.1 (or QoS 2): the connection is closed
)

// refuse counts and logs a message the bus did not store and, for a
// publisher that gets no negative PUBACK, closes its connection
// (publishDurable).
func (r *router) refuse(cl *mqtt.Client, pk packets.Packet, err error) refusal {
	r.metrics.bus.WithLabelValues("out", "store_failed").Inc()
	if cl.Net.Inline {
		r.log.Warn("message delivered on this broker only: the bus could not store it", "client_id", cl.ID, "topic", pk.TopicName, "error", err)
		return deliverHere
	}
	r.log.Warn("QoS 1 message refused: the bus could not store it", "client_id", cl.ID, "topic", pk.TopicName, "error", err)
	if cl.Properties.ProtocolVersion >= 5 && pk.FixedHeader.Qos == 1 {
		return negativeAck
	}
	cl.Stop(packets.ErrUnspecifiedError)
	return closed
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
