package broker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// A device that arrives with a persistent session this broker does not
// hold gets it from its record: restore builds the session on a
// placeholder client before mochi looks for one to inherit, so mochi's own
// takeover hands the subscriptions and the queued messages over and
// answers CONNACK with session present.

// restore loads and claims the record of a device without a local
// session, subscribes it as the record says (as far as its grants still
// allow) and queues the stored messages after its cursor, all on a
// placeholder client that mochi then hands over to cl.
func (r *router) restore(cl *mqtt.Client, h *held) {
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	rec, rev, err := r.claim(ctx, cl.ID)
	if errors.Is(err, bus.ErrNoSession) {
		go r.adopt(h, false)
		return
	}
	if err != nil {
		r.log.Warn("persistent session not restored from the bus; the device starts a new one", "client_id", cl.ID, "error", err)
		h.gone = true
		return
	}
	old := r.server.NewClient(nil, "local", cl.ID, false)
	old.Properties.ProtocolVersion = cl.Properties.ProtocolVersion
	var filters []string
	for _, s := range rec.Subs {
		if !r.acl(cl, s.Filter, false) {
			continue
		}
		sub := packets.Subscription{Filter: s.Filter, Qos: s.QoS, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Identifier: s.Identifier}
		old.State.Subscriptions.Add(s.Filter, sub)
		if r.server.Topics.Subscribe(cl.ID, sub) {
			atomic.AddInt64(&r.server.Info.Subscriptions, 1)
		}
		r.add(s.Filter, cl.ID)
		if s.QoS > 0 {
			filters = append(filters, s.Filter)
		}
	}
	r.server.Clients.Add(old)
	n := 0
	last, err := r.durable.Replay(ctx, filters, rec.Cursor, maxReplay, func(d bus.Delivery) {
		if r.queue(old, cl, d, false) {
			n++
		}
	})
	if err != nil {
		r.metrics.bus.WithLabelValues("in", "replay_failed").Inc()
		r.log.Warn("replay of a moved session incomplete", "client_id", cl.ID, "cursor", rec.Cursor, "queued", n, "error", err)
	}
	r.metrics.bus.WithLabelValues("in", "replayed").Add(float64(n))
	r.raiseSeq(last)
	r.log.Info("persistent session restored from the bus", "client_id", cl.ID, "subscriptions", len(old.State.Subscriptions.GetAll()),
		"cursor", rec.Cursor, "queued", n)
	h.rec, h.rev, h.candidate, h.pending, h.dirty = rec, rev, last, false, true
	h.fresh = true // the cursor moves past what was replayed once it is acknowledged
}

// claim reads a record and writes it back as this broker's, retrying when
// the previous holder wrote it in between.
func (r *router) claim(ctx context.Context, id string) (bus.SessionRecord, uint64, error) {
	for attempt := 0; ; attempt++ {
		rec, rev, err := r.store.LoadSession(ctx, id)
		if err != nil {
			return rec, 0, err
		}
		rec.Owner = r.owner
		rev, err = r.store.SaveSession(ctx, id, rec, rev)
		if err == nil || !errors.Is(err, bus.ErrSessionMoved) || attempt == 2 {
			return rec, rev, err
		}
	}
}

// queue puts a replayed message in the inflight queue of into (cl, or the
// placeholder that cl inherits from) at the QoS of cl's subscription, if
// cl may still receive it, and with send writes it to cl at once.
func (r *router) queue(into, cl *mqtt.Client, d bus.Delivery, send bool) bool {
	sub, ok := r.server.Topics.Subscribers(d.Topic).Subscriptions[cl.ID]
	if !ok || sub.Qos == 0 || !r.acl(cl, d.Topic, false) {
		return false
	}
	id, err := into.NextPacketID()
	if err != nil {
		return false
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: d.Topic,
		Payload: d.Payload, PacketID: uint16(id), Origin: busInlineID, Created: time.Now().Unix()}
	if into.State.Inflight.Set(pk) {
		atomic.AddInt64(&r.server.Info.Inflight, 1)
	}
	if send {
		_ = cl.WritePacket(pk) // a failed write stays in flight, resent at the next connect
	}
	return true
}
