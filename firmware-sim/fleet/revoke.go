package fleet

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// revokeConcurrency bounds the operator API calls running at once.
const revokeConcurrency = 16

// dropsWait bounds how long the revoked devices' drops are awaited (run
// 13 of bench-100k: simulators 30 s and more behind noticed 3,720 of
// 10,008 within the 30 s it was).
const dropsWait = 2 * time.Minute

// revoke revokes RevokeShare of the devices through the operator API
// while the rest publish. The broker must drop each revoked device's
// session at once (the delay is measured from the start of the call), and
// the device must stay out: its agent's next connect is refused, which
// stops it with ErrRevoked.
func (s *sim) revoke(ctx context.Context) *report.Revocation {
	want := int(float64(len(s.devices)) * s.cfg.RevokeShare)
	var up []*device
	for _, d := range s.devices {
		if d.up.Load() && d.rot.Load() == nil { // rotated devices stay in
			up = append(up, d)
		}
	}
	picked := spread(up, want)
	res := &report.Revocation{}
	s.m.mark("revoke")
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, revokeConcurrency)
	for _, d := range picked {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			d.revokedAt.Store(time.Now().UnixNano())
			_, err := s.admin.Revoke(cctx, d.id, "firmware-sim: revocation under load")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.m.errs.Inc("revoke call: " + errShort(err))
				return
			}
			res.Revoked++
		}()
	}
	wg.Wait()
	s.m.mark("revoked")

	res.UpAtRevocation = res.Revoked // only devices in a session are picked
	s.drops.expect(int64(res.Revoked))
	s.awaitRevoked(ctx, picked)
	return res
}

// awaitRevoked waits for the drops (each revoked device's session must
// end), then for the revoked devices' agents to try again and be refused.
// The wait for the drops is long: on a host whose CPU the simulators wait
// for they notice drops late (each is still timed when its device's
// kernel received it), and a drop noticed after the wait is not counted.
func (s *sim) awaitRevoked(ctx context.Context, picked []*device) {
	t := time.NewTimer(dropsWait)
	defer t.Stop()
	select {
	case <-s.drops.done:
	case <-t.C:
	case <-ctx.Done():
	}
	limit := 2*s.cfg.BackoffMax + s.cfg.ConnectTimeout
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, d := range picked {
		select {
		case <-d.done:
		case <-sctx.Done():
		}
	}
}

// dropCount counts the sessions revocations ended and closes done when
// the expected number is reached; the expectation is known only after the
// revoke calls, while drops arrive during them.
type dropCount struct {
	mu   sync.Mutex
	n    atomic.Int64
	want int64 // -1 until expect
	done chan struct{}
}

func newDropCount() *dropCount { return &dropCount{want: -1, done: make(chan struct{})} }

// add counts one drop.
func (c *dropCount) add() {
	c.n.Add(1)
	c.check()
}

// expect sets how many drops complete the count.
func (c *dropCount) expect(n int64) {
	c.mu.Lock()
	c.want = n
	c.mu.Unlock()
	c.check()
}

func (c *dropCount) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.want >= 0 && c.n.Load() >= c.want {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
}
