package broker

import (
	"sync"

	"github.com/fleetgate/fleetgate/store"
)

// enforcer lets a broker say how far it applied the registry's change
// feed, so that an operator's revocation can wait until it is in force on
// every broker (store.DB.AwaitEnforced).
type enforcer interface {
	Follow(member string) store.Follower
}

var _ enforcer = (*store.DB)(nil)

// confirm tells the registry, once every drop begun so far has ended
// (its DISCONNECT written and the connection closed), that the broker
// applied every change up to the barrier rev. The feed goes on meanwhile.
func (b *Broker) confirm(rev int64) {
	f := b.follower
	if f == nil {
		return
	}
	b.hook.drops.after(func() { f.Confirm(rev) })
}

// inflight counts the drops begun and ended, and runs what waits for
// those begun before it.
type inflight struct {
	mu           sync.Mutex
	begun, ended uint64
	waiting      []waiter
}

type waiter struct {
	until uint64 // ended >= until
	fn    func()
}

func (d *inflight) begin() {
	d.mu.Lock()
	d.begun++
	d.mu.Unlock()
}

func (d *inflight) end() {
	d.mu.Lock()
	d.ended++
	var ready []func()
	keep := d.waiting[:0]
	for _, w := range d.waiting {
		if d.ended >= w.until {
			ready = append(ready, w.fn)
		} else {
			keep = append(keep, w)
		}
	}
	d.waiting = keep
	d.mu.Unlock()
	for _, fn := range ready {
		fn()
	}
}

// after runs fn once as many drops have ended as had begun when it was
// called: at once when none is in flight. Drops end in any order, so a
// later drop ending first may stand for an earlier one; each ends within
// dropWriteTimeout, and fn runs in the goroutine of the last one needed.
func (d *inflight) after(fn func()) {
	d.mu.Lock()
	if d.ended >= d.begun {
		d.mu.Unlock()
		fn()
		return
	}
	d.waiting = append(d.waiting, waiter{until: d.begun, fn: fn})
	d.mu.Unlock()
}
