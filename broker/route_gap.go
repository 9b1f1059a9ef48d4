package broker

import (
	"context"
	"errors"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/fleetgate/fleetgate/bus"
)

// catchUpFor bounds the retries of a catch-up: right after a NATS node
// is lost the stream may need some seconds to elect a new leader.
const catchUpFor = time.Minute

// reconnectNotifier is the optional Bus capability to learn that the
// connection to NATS came back. *bus.Conn implements it.
type reconnectNotifier interface {
	OnReconnect(fn func())
}

var _ reconnectNotifier = (*bus.Conn)(nil)

// watchGaps makes the router catch up its held sessions whenever the bus
// connection comes back.
func (r *router) watchGaps() {
	if n, ok := r.bus.(reconnectNotifier); ok && r.store != nil {
		n.OnReconnect(r.catchUp)
	}
}

// catchUp replays, to every persistent session held here, the durable
// messages after its cursor: live delivery is core NATS, so whatever was
// published while this broker was cut off from NATS (or moving to another
// NATS node) never reached it. Messages it did get are delivered again
// (at least once).
func (r *router) catchUp() {
	r.heldMu.Lock()
	all := make([]*held, 0, len(r.held))
	for _, h := range r.held {
		all = append(all, h)
	}
	r.heldMu.Unlock()
	// Every cursor stays where it is until its session has caught up:
	// live messages arriving meanwhile must not move it past the gap.
	type job struct {
		h      *held
		cl     *mqtt.Client
		cursor uint64
	}
	var jobs []job
	for _, h := range all {
		h.mu.Lock()
		if !h.gone && !h.pending {
			h.catchingUp = true
			jobs = append(jobs, job{h, h.cl, h.rec.Cursor})
		}
		h.mu.Unlock()
	}
	total := 0
	for _, j := range jobs {
		n := r.catchUpOne(j.cl, j.cursor)
		total += n
		j.h.mu.Lock()
		j.h.catchingUp = false
		if n > 0 {
			j.h.fresh = true
		}
		j.h.mu.Unlock()
	}
	r.metrics.bus.WithLabelValues("in", "replayed").Add(float64(total))
	r.log.Info("bus back: sessions caught up from the stream", "sessions", len(all), "messages", total)
}

// catchUpOne replays to cl what follows cursor, retrying while the
// stream is not available, and returns how many messages it queued.
func (r *router) catchUpOne(cl *mqtt.Client, cursor uint64) int {
	var filters []string
	for _, s := range subsOf(cl) {
		if s.QoS > 0 {
			filters = append(filters, s.Filter)
		}
	}
	deadline := time.Now().Add(catchUpFor)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
		n := 0
		_, err := r.durable.Replay(ctx, filters, cursor, maxReplay, func(d bus.Delivery) {
			if r.queue(cl, cl, d, !cl.Closed()) {
				n++
			}
		})
		cancel()
		if err == nil {
			return n
		}
		if n > 0 || errors.Is(err, bus.ErrReplayTruncated) || time.Now().After(deadline) {
			r.metrics.bus.WithLabelValues("in", "replay_failed").Inc()
			r.log.Warn("catching up a session after the bus came back: incomplete", "client_id", cl.ID, "cursor", cursor, "queued", n, "error", err)
			return n
		}
		r.log.Debug("catching up a session: stream not ready, retrying", "client_id", cl.ID, "error", err)
		time.Sleep(time.Second)
	}
}
