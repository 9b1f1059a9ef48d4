package fleet

import (
	"context"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// rotateConcurrency bounds the rotations running at once: each is an
// mTLS call to the provisioning API plus a reconnect.
const rotateConcurrency = 32

// rotate rotates Rotate software devices, spread through the fleet, while
// the others publish, and waits until each is back in a session with its
// new certificate.
func (s *sim) rotate(ctx context.Context) *report.Rotation {
	var eligible []*device
	for _, d := range s.devices {
		if d.tpm == nil && d.up.Load() {
			eligible = append(eligible, d)
		}
	}
	picked := spread(eligible, s.cfg.Rotate)
	res := &report.Rotation{Requested: s.cfg.Rotate}
	s.m.mark("rotate")
	var (
		mu      sync.Mutex
		waitFor []*rotation
		wg      sync.WaitGroup
		sem     = make(chan struct{}, rotateConcurrency)
	)
	for _, d := range picked {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			start := time.Now()
			err := d.agent.Rotate(rctx)
			s.m.rotate.Add(time.Since(start))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
				s.m.errs.Inc("rotate: " + errShort(err))
				return
			}
			res.Rotated++
			c, ok := d.agent.Credentials()
			if !ok {
				return
			}
			r := &rotation{want: c.Serial, done: make(chan struct{})}
			d.rot.Store(r)
			// The session may be back before the rotation was recorded.
			if cur, _ := d.serial.Load().(string); cur == c.Serial && d.up.Load() {
				r.reached()
			}
			waitFor = append(waitFor, r)
		}()
	}
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, r := range waitFor {
		select {
		case <-r.done:
			res.Reconnected++
		case <-wctx.Done():
		}
	}
	res.Latency = s.m.rotate.Summary()
	s.m.mark("rotated")
	return res
}

// spread picks n of ds evenly spaced through the slice (all if fewer).
func spread(ds []*device, n int) []*device {
	if n >= len(ds) {
		return ds
	}
	out := make([]*device, 0, n)
	for i := range n {
		out = append(out, ds[i*len(ds)/n])
	}
	return out
}
