package broker

import (
	"context"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// RetainedStore keeps the cluster's retained messages. *bus.Retained
// implements it.
type RetainedStore interface {
	// Set stores topic's retained message for every broker, or clears it
	// when payload is empty; it fails at once while the bus is down.
	Set(ctx context.Context, topic string, qos byte, payload []byte) error
	// Watch calls fn for every retained message and every later change,
	// in order, until ctx ends; loaded once the present ones are passed.
	Watch(ctx context.Context, fn func(bus.RetainedUpdate), loaded func())
}

var _ RetainedStore = (*bus.Retained)(nil)

// retainedSetTimeout bounds the wait for the bucket to store a retained
// message; the PUBLISH that set it waits that long at most.
const retainedSetTimeout = 2 * time.Second

// retainedLoadWait bounds how long a starting broker waits for the
// cluster's retained messages before it accepts devices. A broker that
// cannot reach the bus in that time starts anyway and loads them when
// the bus is back.
const retainedLoadWait = 5 * time.Second

// OnRetainMessage stores a retained message accepted here (a PUBLISH
// after its ACL, or a Will) in the cluster's bucket. mochi calls it before
// it sends PUBACK, so an acknowledged retained message is in the bucket.
// A Will passed no ACL in mochi, so the ACL is asked again here.
func (r *router) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, _ int64) {
	if r.retained == nil || cl.Net.Inline || !r.acl(cl, pk.TopicName, true) {
		return
	}
	if !r.up.Load() {
		r.metrics.bus.WithLabelValues("out", "bus_down").Inc()
		r.log.Debug("retained message kept on this broker only: bus unreachable", "client_id", cl.ID, "topic", pk.TopicName)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), retainedSetTimeout)
	defer cancel()
	if err := r.retained.Set(ctx, pk.TopicName, pk.FixedHeader.Qos, pk.Payload); err != nil {
		r.metrics.bus.WithLabelValues("out", "retained_error").Inc()
		r.log.Warn("retained message kept on this broker only", "client_id", cl.ID, "topic", pk.TopicName, "error", err)
		return
	}
	r.metrics.bus.WithLabelValues("out", "retained").Inc()
}

// loadRetained keeps mochi's retained store in step with the bucket from
// now until ctx ends, and waits up to retainedLoadWait for the messages
// present now, so that a subscriber of a broker that just started gets
// them. A broker whose bus is down does not wait: its devices need it
// more than the other brokers' retained messages.
func (r *router) loadRetained(ctx context.Context) {
	if r.retained == nil {
		return
	}
	loaded := make(chan struct{})
	go r.retained.Watch(ctx, r.applyRetained, func() { close(loaded) })
	if !r.up.Load() { // the bus did not answer the first dial: no wait
		r.log.Warn("retained messages of other brokers load once the bus is reachable")
		return
	}
	select {
	case <-loaded:
	case <-ctx.Done():
	case <-time.After(retainedLoadWait):
		r.log.Warn("retained messages of other brokers not loaded yet; starting without them", "waited", retainedLoadWait)
	}
}

// applyRetained sets or clears one retained message in mochi's store, as
// of the bucket, which is the cluster's truth: it stays here for as long
// as the bucket holds it (the expiry timers of retain.go arm only for
// messages retained through mochi's hook, on the broker that took them).
// Created is still set, for anything that reads the message's age.
// No one is sent anything: subscribers get it through mochi's own path
// (and the ACL) when they subscribe.
func (r *router) applyRetained(u bus.RetainedUpdate) {
	r.server.Topics.RetainMessage(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true, Qos: u.QoS},
		TopicName:   u.Topic,
		Payload:     u.Payload,
		Origin:      busInlineID,
		Created:     time.Now().Unix(),
	})
	atomic.StoreInt64(&r.server.Info.Retained, int64(r.server.Topics.Retained.Len()))
	r.metrics.bus.WithLabelValues("in", "retained").Inc()
}
