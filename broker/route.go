package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// Bus carries messages between brokers. *bus.Conn implements it.
type Bus interface {
	// Publish sends a message accepted here to the other brokers; an
	// error wrapping bus.ErrTooLarge means it was over the bus's limit.
	Publish(topic string, payload []byte) error
	// Subscribe calls fn for messages of other brokers matching filter
	// (a "$share/" filter as a queue group) until the returned function
	// is called.
	Subscribe(filter string, fn func(bus.Delivery)) (func() error, error)
}

var _ Bus = (*bus.Conn)(nil)

// busInlineID is the client ID of the inline client that delivers bus
// messages; a device ID never holds "/".
const busInlineID = "fleetgate/bus"

// dedupSize bounds the message IDs each broker remembers for overlapping
// filters.
const dedupSize = 4096

// router is the mochi hook that joins a broker to the bus: it forwards
// every accepted PUBLISH, holds one bus subscription per filter that local
// clients subscribe to, and delivers bus messages through an inline client
// (the ACL runs at delivery, per recipient, in OnACLCheck). Shared
// subscriptions are delivered through the bus only, as queue groups, so a
// group gets one copy cluster-wide. It also forwards Wills
// (route_will.go), keeps retained messages cluster-wide
// (route_retain.go) and pauses routing while the bus is unreachable
// (route_health.go).
type router struct {
	mqtt.HookBase
	server  *mqtt.Server
	bus     Bus
	log     *slog.Logger
	metrics *Metrics
	inline  *mqtt.Client
	dedup   *bus.Dedup
	counts  routeCounters // the per-message series of metrics.bus

	// acl is the broker hook's ACL check, for Wills and retained
	// messages, which reach the router without one (route_will.go).
	acl func(cl *mqtt.Client, topic string, write bool) bool
	// retained, when set, keeps retained messages cluster-wide
	// (route_retain.go).
	retained RetainedStore
	// up is false while the bus is unreachable (route_health.go).
	up atomic.Bool

	mu       sync.Mutex
	interest map[string]*interest // by filter, "$share/..." included

	// inject serialises deliveries from the bus; share is the shared
	// filter the one in progress is for ("" for a plain delivery), read by
	// OnSelectSubscribers for packets of the inline client.
	inject sync.Mutex
	share  atomic.Pointer[string]

	durableState // QoS 1 and moving sessions (route_qos1.go, route_session.go)
}

// interest is one filter's local subscribers and its bus subscription.
type interest struct {
	clients     map[string]struct{}
	unsubscribe func() error
}

var _ mqtt.Hook = (*router)(nil)

func newRouter(server *mqtt.Server, b Bus, acl func(*mqtt.Client, string, bool) bool, rs RetainedStore, log *slog.Logger, m *Metrics) *router {
	r := &router{server: server, bus: b, log: log, metrics: m, acl: acl, retained: rs,
		inline: server.NewClient(nil, "local", busInlineID, true), dedup: bus.NewDedup(dedupSize),
		interest: map[string]*interest{}, counts: newRouteCounters(m)}
	r.up.Store(true)
	return r
}

// start watches the bus's reachability and loads the cluster's retained
// messages (waiting a bounded time for them) until ctx ends.
func (r *router) start(ctx context.Context) {
	r.watchHealth(ctx)
	r.loadRetained(ctx)
}

// ID names the hook in mochi's logs.
func (r *router) ID() string { return "fleetgate-bus" }

// Provides declares the events the router handles.
func (r *router) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublish, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnSelectSubscribers,
		mqtt.OnRetainMessage, mqtt.OnWillSent, mqtt.OnSessionEstablish, mqtt.OnDisconnect,
		mqtt.OnClientExpired, mqtt.OnQosPublish}, []byte{b})
}

// OnPublish forwards a PUBLISH the ACL accepted (mochi runs it after the
// ACL, before PUBACK). Bus deliveries come back through it from the bus's
// inline client and are not forwarded again; lifecycle events, from the
// events' inline client (events.go), go out like any message, so that
// backends on every broker, and $share groups, get them. Local delivery goes on whatever
// happens here.
func (r *router) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.ID == busInlineID {
		return pk, nil
	}
	if pk.FixedHeader.Qos > 0 && r.durable != nil {
		return r.publishDurable(cl, pk)
	}
	r.forward(cl, pk)
	return pk, nil
}

// forward sends a message accepted here to the other brokers. While the
// bus is unreachable it is counted and dropped rather than left in the
// NATS client's reconnect buffer, to arrive late and all at once.
func (r *router) forward(cl *mqtt.Client, pk packets.Packet) {
	if !r.up.Load() {
		r.metrics.bus.WithLabelValues("out", "bus_down").Inc()
		return
	}
	switch err := r.bus.Publish(pk.TopicName, pk.Payload); {
	case err == nil:
		r.counts.sent.Inc()
	case errors.Is(err, bus.ErrTooLarge):
		r.metrics.bus.WithLabelValues("out", "too_large").Inc()
		r.log.Warn("message not sent to other brokers: over the bus payload limit", "client_id", cl.ID, "topic", pk.TopicName, "bytes", len(pk.Payload), "error", err)
	default:
		r.metrics.bus.WithLabelValues("out", "error").Inc()
		r.log.Warn("message not sent to other brokers", "client_id", cl.ID, "topic", pk.TopicName, "error", err)
	}
}

// OnSubscribed adds the client to the interest of every filter granted.
func (r *router) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] < packets.ErrUnspecifiedError.Code {
			r.add(f.Filter, cl.ID)
		}
	}
	r.subsChanged(cl)
}

// OnUnsubscribed removes the client from the interest of its filters;
// mochi calls it also for filters the client never had, and when a
// session ends.
func (r *router) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		r.remove(f.Filter, cl.ID)
	}
	r.subsChanged(cl)
}

// add subscribes on the bus for the first local subscriber of filter.
func (r *router) add(filter, clientID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.interest[filter]
	if in == nil {
		share := sharePointer(filter)
		unsub, err := r.bus.Subscribe(filter, func(d bus.Delivery) { r.deliver(share, d) })
		if err != nil {
			r.log.Warn("no bus subscription: messages from other brokers will not reach this filter", "filter", filter, "error", err)
			return
		}
		in = &interest{clients: map[string]struct{}{}, unsubscribe: unsub}
		r.interest[filter] = in
	}
	in.clients[clientID] = struct{}{}
}

// remove ends the bus subscription with the last local subscriber.
func (r *router) remove(filter, clientID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.interest[filter]
	if in == nil {
		return
	}
	delete(in.clients, clientID)
	if len(in.clients) == 0 {
		delete(r.interest, filter)
		if err := in.unsubscribe(); err != nil {
			r.log.Debug("bus unsubscribe", "filter", filter, "error", err)
		}
	}
}

// deliver hands a message of another broker to the local subscribers, at
// the QoS it came with (1 for a durable message, else 0); share is
// sharePointer of the bus subscription's filter. A plain filter's message
// is delivered once however many plain filters it matched; a shared one
// goes to one member of that share.
//
// *bus.Conn calls deliver from one goroutine for all its subscriptions
// (bus/dispatch.go), but a Bus may call it from several. The duplicate
// check runs under the same lock as the delivery: checked outside it, one
// subscription could mark a message seen and, before it delivered it,
// another could deliver the publisher's next message, so that
// overlapping filters would reorder one publisher's messages.
func (r *router) deliver(share *string, d bus.Delivery) {
	r.inject.Lock()
	defer r.inject.Unlock()
	if share == noShare && !r.dedup.First(d.ID) {
		r.counts.duplicate.Inc()
		return
	}
	r.share.Store(share)
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: d.QoS},
		TopicName:   d.Topic,
		Payload:     d.Payload,
	}
	if d.QoS > 0 {
		pk.PacketID = 1 // mochi asks one of a QoS 1 packet; the inline client acknowledges nothing
	}
	err := r.server.InjectPacket(r.inline, pk)
	if err != nil {
		r.log.Warn("bus message not delivered", "topic", d.Topic, "error", err)
		return
	}
	r.raiseSeq(d.Seq)
	r.counts.delivered.Inc()
}

// OnSelectSubscribers keeps shared subscriptions to the bus: a local
// publish or a plain bus delivery reaches no share member here (the queue
// group picks one cluster-wide), and a delivery for a share reaches one
// member of that share and no one else.
func (r *router) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	share := ""
	if pk.Origin == busInlineID {
		if p := r.share.Load(); p != nil {
			share = *p
		}
	}
	members := subs.Shared[share]
	subs.Shared = map[string]map[string]packets.Subscription{}
	subs.SharedSelected = map[string]packets.Subscription{}
	if share != "" {
		subs.Subscriptions = map[string]packets.Subscription{}
		for id, sub := range members { // map order: any member
			subs.SharedSelected[id] = sub
			break
		}
	}
	return subs
}
