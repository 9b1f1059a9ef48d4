package broker

import (
	"hash/maphash"
	"sync/atomic"
)

// changeClock counts the registry changes the broker has applied, per
// device (in stripes) and for changes that name no device. A CONNECT reads
// the clock before it looks the device up and again after it registered
// the session: a change applied in between may have been missed by both
// (the lookup read the registry before it, the feed scanned the sessions
// before the new one was there), so the CONNECT decides again. A change
// applied after the second reading finds the registered session.
//
// Stripes keep a revocation storm on other devices from sending every
// CONNECT back to the registry; a shared stripe costs one extra lookup,
// never a wrong answer.
type changeClock struct {
	seed    maphash.Seed
	global  atomic.Uint64 // changes that name no device
	stripes [256]atomic.Uint64
}

func newChangeClock() *changeClock { return &changeClock{seed: maphash.MakeSeed()} }

func (c *changeClock) stripe(deviceID string) *atomic.Uint64 {
	return &c.stripes[maphash.String(c.seed, deviceID)%uint64(len(c.stripes))]
}

// read returns the reading for deviceID: it grows with every change that
// may concern the device.
func (c *changeClock) read(deviceID string) uint64 {
	return c.global.Load() + c.stripe(deviceID).Load()
}

// tick records a change before the broker looks for the sessions it ends.
func (c *changeClock) tick(deviceID string) {
	if deviceID == "" {
		c.global.Add(1)
		return
	}
	c.stripe(deviceID).Add(1)
}
