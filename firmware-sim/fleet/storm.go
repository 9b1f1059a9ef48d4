package fleet

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// stormRound tracks the devices a storm dropped until they are back.
type stormRound struct {
	left atomic.Int64
	done chan struct{}
	want []atomic.Bool // by device index: dropped, not back yet
}

// runStorm drops every connection at once, as a broker restart or a
// network outage would, and waits until every dropped device is back in
// a session (their agents reconnect with jittered backoff).
func (s *sim) runStorm(ctx context.Context) *report.Storm {
	r := &stormRound{want: make([]atomic.Bool, len(s.devices)), done: make(chan struct{})}
	var n int64
	for _, d := range s.devices {
		if d.up.Load() && d.revokedAt.Load() == 0 {
			r.want[d.idx].Store(true)
			n++
		}
	}
	r.left.Store(n)
	if n == 0 {
		close(r.done)
	}
	s.storm.Store(r)
	attempts, failed := s.m.attempts.Load(), s.m.failedAttempts.Load()
	s.m.mark("storm")
	start := time.Now()
	res := &report.Storm{Dropped: s.conns.dropAll(), Expected: int(n)}
	limit := max(2*time.Minute, time.Duration(len(s.devices))*10*time.Millisecond)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		s.log.Warn("not every device came back after the storm", "left", r.left.Load(), "limit", limit)
	case <-ctx.Done():
	}
	res.Seconds = roundTenth(time.Since(start).Seconds())
	res.Reconnected = int(n - r.left.Load())
	res.Attempts = s.m.attempts.Load() - attempts
	res.FailedAttempt = s.m.failedAttempts.Load() - failed
	s.m.mark("storm over")
	return res
}

// stormBack counts d back after the storm, if the storm waits for it.
func (s *sim) stormBack(d *device) {
	r := s.storm.Load()
	if r == nil || !r.want[d.idx].CompareAndSwap(true, false) {
		return
	}
	if r.left.Add(-1) == 0 {
		close(r.done)
	}
}
