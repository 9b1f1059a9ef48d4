package broker

import (
	"context"
	"errors"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
)

// checkpointEvery is how often held records are written when their
// cursor moved; subscription changes and disconnects are written at once.
const checkpointEvery = time.Second

// The cursor of a held session moves in checkpoints, one behind: at each
// checkpoint, if the session has nothing in flight (every message handed
// to it has been acknowledged), its cursor becomes the sequence this
// broker had delivered up to at the previous checkpoint. Messages reach a
// broker in about, not exactly, stream order; the one-checkpoint lag lets
// a message stored earlier but delivered a little later arrive before the
// cursor passes it. A cursor that lags only costs duplicates after a move.
//
// Only a session something was delivered to at QoS 1 moves its cursor:
// one that received nothing has nothing to receive twice after a move, so
// its record is not written again (with thousands of idle sessions per
// broker, every session's record rewritten every second was most of the
// bus's load). The checkpoint after a delivery takes the sequence the
// cursor moves to, the next one moves it: one write per delivery, at most
// one a checkpoint while messages keep coming. A held record is also
// written again before half of the bus's retention has passed, so that
// the record of a device connected but idle that long does not expire.

// retentionReporter is the optional SessionStore capability that tells
// how long the bus keeps a record nobody writes. *bus.Conn implements it.
type retentionReporter interface {
	Retention() time.Duration
}

var _ retentionReporter = (*bus.Conn)(nil)

// runCheckpoints writes held records until ctx ends.
func (r *router) runCheckpoints(ctx context.Context) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		tick := false // a flush request writes what changed, cursors stay
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tick = true
		case <-r.flush:
		}
		r.checkpoint(ctx, tick)
	}
}

// signal asks for a checkpoint soon.
func (r *router) signal() {
	select {
	case r.flush <- struct{}{}:
	default:
	}
}

// checkpoint writes every dirty held record; on a tick it first moves the
// cursors.
func (r *router) checkpoint(ctx context.Context, tick bool) {
	r.heldMu.Lock()
	all := make([]*held, 0, len(r.held))
	for _, h := range r.held {
		all = append(all, h)
	}
	r.heldMu.Unlock()
	last := r.lastSeq.Load()
	for _, h := range all {
		if moved := r.save(ctx, h, tick, last); moved {
			r.heldMu.Lock()
			if r.held[h.cl.ID] == h {
				delete(r.held, h.cl.ID)
			}
			r.heldMu.Unlock()
		}
	}
}

// save moves h's cursor (on a tick) and writes its record if it changed;
// it reports whether another broker holds the session now.
func (r *router) save(ctx context.Context, h *held, tick bool, last uint64) (moved bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone || h.pending {
		return false
	}
	if tick && !h.catchingUp {
		if h.moveDue && h.cl.State.Inflight.Len() == 0 {
			if h.candidate > h.rec.Cursor {
				h.rec.Cursor, h.dirty = h.candidate, true
			}
			h.moveDue = false
		}
		if h.fresh {
			h.moveDue, h.fresh = true, false
		}
		h.candidate = last
	}
	if r.recordTTL > 0 && !h.written.IsZero() && time.Since(h.written) > r.recordTTL/2 {
		h.dirty = true
	}
	if !h.dirty {
		return false
	}
	h.rec.Subs, h.rec.Owner = subsOf(h.cl), r.owner
	wctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	rev, err := r.store.SaveSession(wctx, h.cl.ID, h.rec, h.rev)
	switch {
	case err == nil:
		h.rev, h.dirty, h.written = rev, false, time.Now()
	case errors.Is(err, bus.ErrSessionMoved):
		r.log.Info("session moved to another broker; its record is no longer written here", "client_id", h.cl.ID)
		h.gone = true
		return true
	default:
		r.log.Warn("session record not written; retrying", "client_id", h.cl.ID, "error", err)
	}
	return false
}

// OnQosPublish marks a held session a QoS 1 or 2 message was sent to for
// the first time (resends add nothing): its cursor may move.
func (r *router) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || resends > 0 {
		return
	}
	if h := r.heldOf(cl); h != nil {
		h.mu.Lock()
		h.fresh = true
		h.mu.Unlock()
	}
}

// subsOf lists cl's subscriptions for its record.
func subsOf(cl *mqtt.Client) []bus.SessionSub {
	all := cl.State.Subscriptions.GetAll()
	out := make([]bus.SessionSub, 0, len(all))
	for _, s := range all {
		out = append(out, bus.SessionSub{Filter: s.Filter, QoS: s.Qos, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Identifier: s.Identifier})
	}
	return out
}

// subsChanged writes a held session's record after SUBSCRIBE or
// UNSUBSCRIBE.
func (r *router) subsChanged(cl *mqtt.Client) {
	if h := r.heldOf(cl); h != nil {
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
		r.signal()
	}
}

// heldOf returns the held session of cl itself (not of an older or newer
// client with its ID), or nil.
func (r *router) heldOf(cl *mqtt.Client) *held {
	if r.store == nil {
		return nil
	}
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	if h := r.held[cl.ID]; h != nil && h.cl == cl {
		return h
	}
	return nil
}

// OnDisconnect saves a held session's record when its device goes away,
// ends it when the session ends with the connection, and purges the local
// session of one that was released while it was still connected.
func (r *router) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	h := r.heldOf(cl)
	if h == nil {
		return
	}
	h.mu.Lock()
	h.disconnected, h.dirty = true, true
	gone := h.gone
	h.mu.Unlock()
	switch {
	case gone:
		r.heldMu.Lock()
		if r.held[cl.ID] == h {
			delete(r.held, cl.ID)
		}
		r.heldMu.Unlock()
		r.purge(cl)
	case expire:
		r.end(cl)
	default:
		r.signal()
	}
}

// OnClientExpired ends the record of a session mochi has expired.
func (r *router) OnClientExpired(cl *mqtt.Client) {
	if r.heldOf(cl) != nil {
		r.end(cl)
	}
}

// end forgets a held session and deletes its record.
func (r *router) end(cl *mqtt.Client) {
	r.heldMu.Lock()
	h := r.held[cl.ID]
	delete(r.held, cl.ID)
	r.heldMu.Unlock()
	if h != nil {
		h.release()
	}
	go r.deleteRecord(cl.ID)
}
