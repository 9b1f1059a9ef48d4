package broker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/store"
)

// Persistent sessions move with their device. Each persistent session has
// one record on the bus (bus.SessionRecord): its subscriptions and its
// cursor, the stream sequence up to which it has acknowledged every
// durable message meant for it. The broker holding the session keeps the
// record (held); a broker where the device arrives without a local session
// loads the record, claims it, restores the subscriptions and queues the
// stored messages after the cursor, so the device finds its session
// (Session Present) and gets what it missed, at least once. Records are
// written with compare-and-set: once another broker claims one, the old
// holder's next write fails and it lets go.

const (
	// restoreTimeout bounds the bus calls of a CONNECT that restores a
	// session (the client waits for its CONNACK meanwhile).
	restoreTimeout = 5 * time.Second
	// maxReplay bounds the messages queued for one restored session.
	maxReplay = 4096
	// maxBackground bounds the record reads and deletes running in the
	// background (a reconnect storm starts one per device).
	maxBackground = 64
)

// durableState is the router's part for QoS 1 and persistent sessions;
// without a DurableBus and SessionStore it stays empty and unused.
type durableState struct {
	durable DurableBus
	store   SessionStore
	owner   string
	acl     func(cl *mqtt.Client, topic string, write bool) bool
	lastSeq atomic.Uint64 // highest stream sequence delivered or published here
	// recordTTL is how long the bus keeps a record nobody writes; a held
	// record is written again before half of it has passed.
	recordTTL time.Duration
	heldMu    sync.Mutex
	held      map[string]*held // by client ID
	flush     chan struct{}
	slots     chan struct{} // maxBackground
	stores    *storeQueues  // QoS 1 messages whose store is slow (route_store.go)
}

// held is one persistent session whose record this broker keeps.
type held struct {
	mu           sync.Mutex
	cl           *mqtt.Client
	rec          bus.SessionRecord
	rev          uint64    // record revision; 0: not written yet
	candidate    uint64    // lastSeq at the previous checkpoint (route_cursor.go)
	fresh        bool      // something was delivered since the last checkpoint (route_cursor.go)
	moveDue      bool      // the cursor moves at the next checkpoint with nothing in flight
	written      time.Time // the record's last write here
	dirty        bool
	pending      bool // the record is being read or reset: write nothing yet
	gone         bool // moved, revoked or ended: write nothing more
	disconnected bool
	catchingUp   bool // a catch-up runs (route_gap.go): the cursor stays
}

// enableDurable turns on QoS 1 storage and moving sessions when the bus
// offers them. acl is the broker's ACL check; owner names this broker.
func (r *router) enableDurable(ctx context.Context, owner string, acl func(*mqtt.Client, string, bool) bool) bool {
	d, ok1 := r.bus.(DurableBus)
	s, ok2 := r.bus.(SessionStore)
	if !ok1 || !ok2 {
		return false
	}
	r.durable, r.store, r.owner, r.acl = d, s, owner, acl
	if rr, ok := r.bus.(retentionReporter); ok {
		r.recordTTL = rr.Retention()
	}
	r.held, r.flush, r.slots = map[string]*held{}, make(chan struct{}, 1), make(chan struct{}, maxBackground)
	r.stores = newStoreQueues(ctx, r.finishStore)
	return true
}

// persistent reports whether cl's session outlives its connection.
func persistent(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion >= 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

// OnSessionEstablish runs after the broker hook admitted cl and before
// mochi looks for a local session to inherit: a device arriving here with
// a session that lives on another broker gets it restored now, so that
// mochi inherits it.
func (r *router) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if r.store == nil || cl.Net.Inline {
		return
	}
	old, local := r.server.Clients.Get(cl.ID)
	local = local && old != cl
	r.heldMu.Lock()
	h := r.held[cl.ID]
	if h != nil && (pk.Connect.Clean || h.isGone()) {
		h.release()
		delete(r.held, cl.ID)
		h = nil
	}
	r.heldMu.Unlock()
	switch {
	case h != nil && local: // mochi hands the local session over
		h.mu.Lock()
		h.cl, h.disconnected = cl, false
		h.mu.Unlock()
		return
	case !persistent(cl):
		if pk.Connect.Clean {
			go r.deleteRecord(cl.ID) // a clean start ends the session everywhere
		}
		return
	}
	h = &held{cl: cl, pending: true}
	if !pk.Connect.Clean && !local {
		r.restore(cl, h)
	} else {
		go r.adopt(h, pk.Connect.Clean)
	}
	r.heldMu.Lock()
	r.held[cl.ID] = h
	r.heldMu.Unlock()
}

// adopt starts keeping the record of a session that began here (or that
// this broker did not keep before): a clean start deletes the old record
// first; otherwise its cursor and revision are taken over.
func (r *router) adopt(h *held, clean bool) {
	r.slots <- struct{}{}
	defer func() { <-r.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	id := h.cl.ID
	if clean {
		r.deleteNow(id)
	}
	rec, rev, err := r.store.LoadSession(ctx, id)
	if errors.Is(err, bus.ErrNoSession) {
		rec.Cursor, err = r.durable.Replay(ctx, nil, ^uint64(0), 0, nil) // only the stream's last sequence
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		r.log.Warn("persistent session not recorded on the bus; it will not move to another broker", "client_id", id, "error", err)
		h.gone = true
		return
	}
	h.rev, h.rec.Cursor, h.candidate = rev, rec.Cursor, rec.Cursor
	h.pending, h.dirty = false, true
	r.signal()
}

// registryChange lets go of a session claimed by another broker, and of
// a revoked device's session, whose record is deleted as well (every
// broker deletes it: the one that held it may be gone).
func (r *router) registryChange(ch store.Change) {
	if r.store == nil {
		return
	}
	revoked := ch.Kind == store.ChangeDevice && ch.DeviceStatus == store.DeviceRevoked
	if !revoked && (ch.Kind != store.ChangeSession || ch.Owner == r.owner) {
		return
	}
	r.heldMu.Lock()
	h := r.held[ch.DeviceID]
	if h != nil && h.release() {
		delete(r.held, ch.DeviceID) // else OnDisconnect purges it
		defer r.purge(h.cl)
	}
	r.heldMu.Unlock()
	if revoked {
		go r.deleteRecord(ch.DeviceID)
	}
}

// release marks h gone and reports whether its client is disconnected,
// so its local session can be purged now (otherwise OnDisconnect does).
func (h *held) release() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gone = true
	return h.disconnected
}

// isGone reports whether h was released.
func (h *held) isGone() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gone
}

// purge ends cl's local session with its subscriptions and queued
// messages, unless a newer client took its place.
func (r *router) purge(cl *mqtt.Client) {
	if cur, ok := r.server.Clients.Get(cl.ID); !ok || cur != cl {
		return
	}
	r.server.UnsubscribeClient(cl)
	cl.ClearInflights()
	r.server.Clients.Delete(cl.ID)
}

// deleteRecord removes a session's record, waiting for a background
// slot.
func (r *router) deleteRecord(id string) {
	r.slots <- struct{}{}
	defer func() { <-r.slots }()
	r.deleteNow(id)
}

// deleteNow removes a session's record.
func (r *router) deleteNow(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	if err := r.store.DeleteSession(ctx, id); err != nil {
		r.log.Warn("session record not deleted", "client_id", id, "error", err)
	}
}
