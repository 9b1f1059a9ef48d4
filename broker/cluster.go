package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// One session per device across a cluster. Brokers sharing an etcd
// registry each serialise takeovers of their own sessions (idLocks); a
// device that connects to a second broker must also lose its session on
// the first, as MQTT's takeover rule asks. After admitting a device, a
// broker claims it in the registry (store.DB.ClaimSession, off the connect
// path); every broker sees the claim on its change feed and ends its own
// sessions of the device that were claimed earlier.

// reasonTakenOver: the device connected to another broker of the cluster.
const reasonTakenOver = "taken_over_elsewhere"

// maxClaims bounds the registry writes in flight for session claims.
const maxClaims = 64

// sessionClaimer is an optional Registry capability: *store.DB has it, and
// it records claims only on a registry shared by several brokers.
type sessionClaimer interface {
	Clustered() bool
	ClaimSession(ctx context.Context, deviceID, owner string) (int64, error)
}

var _ sessionClaimer = (*store.DB)(nil)

// newOwner names this broker process in session claims.
func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return host + "/" + hex.EncodeToString(b[:])
}

// claimSession records in the background that s's device is now here.
// When the registry's latest claim for the device is already this
// broker's (a device reconnecting to the broker it was on, the common
// case), nothing needs writing.
func (h *hook) claimSession(s *session) {
	c, ok := h.reg.(sessionClaimer)
	if !ok || !c.Clustered() {
		return
	}
	if mine := loadRev(&h.owned, s.deviceID); mine > 0 && mine > loadRev(&h.foreign, s.deviceID) {
		s.claimRev.Store(mine)
		return
	}
	go func() {
		h.claims <- struct{}{}
		defer func() { <-h.claims }()
		// A device that already left (perhaps for another broker, whose
		// claim may be in already) is not claimed late from here: that
		// late claim would end its newer session there.
		if s.cl.Closed() || s.dropped.Load() || s.replaced.Load() {
			return
		}
		rev, err := c.ClaimSession(h.ctx, s.deviceID, h.owner)
		if err != nil {
			// The session stays: the other brokers only learn of it at the
			// device's next connect.
			h.log.Warn("claiming the session in the registry failed", "device", s.deviceID, "error", err.Error())
			return
		}
		s.claimRev.Store(rev)
		raiseRev(&h.owned, s.deviceID, rev)
		// Another broker's claim that committed first but arrived before
		// this one was known: it is later, so this session ends.
		if loadRev(&h.foreign, s.deviceID) > rev {
			h.drop(s, reasonTakenOver, time.Time{})
		}
	}()
}

// takenOver ends this broker's sessions of a device that another broker
// claimed later.
func (h *hook) takenOver(ch store.Change) {
	if ch.Owner == h.owner {
		raiseRev(&h.owned, ch.DeviceID, ch.Revision)
		return
	}
	raiseRev(&h.foreign, ch.DeviceID, ch.Revision)
	hit := h.sessions.ofDevice(ch.DeviceID, func(s *session) bool {
		rev := s.claimRev.Load()
		return rev > 0 && rev < ch.Revision
	})
	for _, s := range hit {
		h.drop(s, reasonTakenOver, time.Time{})
	}
}

// loadRev returns the revision m holds for a device, 0 if none.
func loadRev(m *sync.Map, deviceID string) int64 {
	if v, ok := m.Load(deviceID); ok {
		return v.(int64)
	}
	return 0
}

// raiseRev stores rev for a device in m unless m holds a later one.
func raiseRev(m *sync.Map, deviceID string, rev int64) {
	for {
		v, loaded := m.LoadOrStore(deviceID, rev)
		if !loaded || v.(int64) >= rev || m.CompareAndSwap(deviceID, v, rev) {
			return
		}
	}
}
