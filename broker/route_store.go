package broker

import (
	"context"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// A publisher's store queue holds its QoS 1 messages whose store on the
// bus outlasted storeFastWait (and every later one while any waits), and
// finishes them in the order they came: when the stream holds a message
// it is acknowledged to the publisher, retained cluster-wide if it is
// retained, and delivered here; when the stream refuses it or its wait
// passes the bus's publish timeout, the publisher is refused as in
// publishDurable. Meanwhile the publisher's read loop goes on reading its
// packets, so a slow store costs the device a late PUBACK, not a missed
// PINGRESP or a closed connection.
//
// What the queue does not keep: a local subscriber with MQTT 5 No Local
// on the publisher's own topic gets a queued message too (mochi sees it
// come from the broker's inline client), and a message a publisher sends
// at QoS 0 may overtake its queued QoS 1 messages (MQTT orders messages
// of one QoS only).

// maxQueuedStores bounds one publisher's queue: past it the publisher's
// read loop waits for the oldest message to finish, as it waited for
// every slow store before there was a queue.
const maxQueuedStores = 64

// maxQueuedInline is the bound for the broker's own publishers (inline
// clients), each with one queue for all devices: lifecycle events of a
// connect burst while the stream is slow.
const maxQueuedInline = 16384

// queuedStore is one message waiting for the stream.
type queuedStore struct {
	pk      packets.Packet
	pending *bus.Pending
	start   time.Time
}

// storeQueues are the store queues of the publishers that have one, each
// drained by its own goroutine while it holds anything.
type storeQueues struct {
	mu     sync.Mutex
	queues map[*mqtt.Client]*storeQueue
	ctx    context.Context // ends the drains when the broker stops
	finish func(cl *mqtt.Client, s queuedStore, seq uint64, err error)
}

// storeQueue is one publisher's queue.
type storeQueue struct {
	items []queuedStore
	freed chan struct{} // a message finished (capacity 1)
}

func newStoreQueues(ctx context.Context, finish func(*mqtt.Client, queuedStore, uint64, error)) *storeQueues {
	return &storeQueues{queues: map[*mqtt.Client]*storeQueue{}, ctx: ctx, finish: finish}
}

// waiting reports whether cl has messages in its queue: its next one
// must queue behind them.
func (s *storeQueues) waiting(cl *mqtt.Client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queues[cl] != nil
}

// add queues a message of cl, starting the queue's drain if it was empty,
// and waits while the queue is over maxQueuedStores.
func (s *storeQueues) add(cl *mqtt.Client, it queuedStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[cl]
	if q == nil {
		q = &storeQueue{freed: make(chan struct{}, 1)}
		s.queues[cl] = q
		go s.drain(cl, q)
	}
	q.items = append(q.items, it)
	limit := maxQueuedStores
	if cl.Net.Inline {
		limit = maxQueuedInline
	}
	for len(q.items) > limit {
		s.mu.Unlock()
		select {
		case <-q.freed:
		case <-s.ctx.Done():
			s.mu.Lock()
			return
		}
		s.mu.Lock()
	}
}

// drain finishes q's messages in order until it is empty, then forgets
// it; a later message of cl starts a new queue.
func (s *storeQueues) drain(cl *mqtt.Client, q *storeQueue) {
	for {
		s.mu.Lock()
		if len(q.items) == 0 {
			delete(s.queues, cl)
			s.mu.Unlock()
			return
		}
		it := q.items[0]
		s.mu.Unlock()
		seq, err := it.pending.Await(s.ctx)
		if s.ctx.Err() != nil {
			return // the broker stops: the publisher sends again elsewhere
		}
		s.finish(cl, it, seq, err)
		s.mu.Lock()
		q.items[0] = queuedStore{}
		q.items = q.items[1:]
		s.mu.Unlock()
		select {
		case q.freed <- struct{}{}:
		default:
		}
	}
}

// finishStore ends a queued message's wait: see storeQueues.
func (r *router) finishStore(cl *mqtt.Client, it queuedStore, seq uint64, err error) {
	r.metrics.busStore.Observe(time.Since(it.start).Seconds())
	if err != nil {
		switch r.refuse(cl, it.pk, err) {
		case deliverHere:
			r.deliverLocal(it.pk)
		case negativeAck:
			r.ack(cl, it.pk.PacketID, packets.ErrUnspecifiedError)
		}
		return
	}
	r.stored(seq)
	if !cl.Net.Inline {
		r.ack(cl, it.pk.PacketID, packets.CodeSuccess)
	}
	if it.pk.FixedHeader.Retain {
		r.OnRetainMessage(cl, it.pk, 1) // cluster-wide, as mochi's path would before PUBACK
	}
	r.deliverLocal(it.pk)
}

// ack sends a PUBACK with code; a publisher gone meanwhile gets none and
// sends the message again when it reconnects.
func (r *router) ack(cl *mqtt.Client, id uint16, code packets.Code) {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id, ReasonCode: code.Code, Created: time.Now().Unix()}
	if code.Code >= packets.ErrUnspecifiedError.Code {
		pk.Properties.ReasonString = code.Reason
	}
	if err := cl.WritePacket(pk); err != nil {
		r.log.Debug("PUBACK not sent: the publisher has gone", "client_id", cl.ID, "error", err)
	}
}

// deliverLocal hands a stored message of a local publisher to this
// broker's subscribers (and mochi's retained store) through the bus's
// inline client, as a message of another broker is delivered: mochi's
// own path ended when the store was queued. Shared subscriptions get it
// through the bus, like any local message.
func (r *router) deliverLocal(pk packets.Packet) {
	pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = 0, false
	r.inject.Lock()
	defer r.inject.Unlock()
	r.share.Store(noShare)
	if err := r.server.InjectPacket(r.inline, pk); err != nil {
		r.log.Warn("stored message not delivered on this broker", "topic", pk.TopicName, "error", err)
	}
}
