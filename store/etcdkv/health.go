package etcdkv

import (
	"context"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// heard records an answer of the watch. Reachability runs on the wall
// clock, not the registry's (tests set that one).
func (c *localCopy) heard() { c.lastHeard.Store(time.Now().UnixNano()) }

// age is how long the watch has not answered.
func (c *localCopy) age() time.Duration {
	return time.Since(time.Unix(0, c.lastHeard.Load()))
}

// beat asks the watch to confirm its revision every heartbeat and reports
// changes of reachability in the log.
func (c *localCopy) beat() {
	defer c.wg.Done()
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.watchMu.Lock()
		wctx := c.watchCtx
		c.watchMu.Unlock()
		if wctx != nil {
			rctx, cancel := context.WithTimeout(wctx, c.heartbeat)
			_ = c.b.cli.RequestProgress(rctx) // the answer arrives on the watch
			cancel()
		}
		c.judge()
	}
}

// judge updates and logs the reachability state from the watch's age.
func (c *localCopy) judge() {
	age := c.age()
	switch down := age > 3*c.heartbeat; {
	case down && c.reachable.CompareAndSwap(true, false):
		c.b.log.Warn("registry unreachable; judging devices from the local copy",
			"silent_for", age.Round(time.Millisecond), "grace", c.grace, "revision", c.revision())
	case !down && c.reachable.CompareAndSwap(false, true):
		c.b.log.Info("registry reachable again", "revision", c.revision())
	}
	switch past := age > c.grace; {
	case past && c.pastGrace.CompareAndSwap(false, true):
		c.b.log.Error("registry unreachable past the grace period; refusing every device until it answers",
			"silent_for", age.Round(time.Millisecond), "grace", c.grace)
	case !past:
		c.pastGrace.Store(false)
	}
}

// Health reports the watch's state: whether etcd answers, and whether the
// copy is past its grace period.
func (b *Backend) Health() kv.Health {
	c := b.copy
	c.judge()
	return kv.Health{
		Backend: "etcd", Reachable: c.reachable.Load(), PastGrace: c.pastGrace.Load(),
		LastContact: time.Unix(0, c.lastHeard.Load()).UTC(), Grace: c.grace,
		Revision: c.revision(), Resyncs: c.resyncs.Load(), Conflicts: b.conflicts.Load(),
		Requests: b.requests.Load(), Commits: b.commits.Load(),
	}
}
