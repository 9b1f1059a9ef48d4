package fleet

import (
	"context"
	"time"
)

// startedBy is how many devices the ramp has started t seconds in: the
// start rate climbs linearly from 10% to 100% of rate over ramp seconds
// and stays there, so a fleet does not hit the server as one wave.
func startedBy(rate, ramp, t float64) int {
	if t <= 0 {
		return 0
	}
	if ramp <= 0 {
		return int(rate * t)
	}
	if t < ramp {
		return int(rate * (0.1*t + 0.45*t*t/ramp))
	}
	return int(rate * (0.55*ramp + t - ramp))
}

// ramp starts every device's agent on the ramp's schedule, never more
// than MaxInflight enrolling or connecting at once, and returns when each
// has reached a first session or stopped, or ConnectWait has passed.
// Devices not started by then are never started: they count as not
// connected.
func (s *sim) ramp(ctx, runCtx context.Context) error {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	cutoff := time.NewTimer(s.cfg.ConnectWait)
	defer cutoff.Stop()
	rampSecs := s.cfg.Ramp.Seconds()
starting:
	for i := 0; i < len(s.devices); {
		due := min(startedBy(s.cfg.ConnectRate, rampSecs, time.Since(start).Seconds()), len(s.devices))
		for ; i < due; i++ {
			select {
			case s.slots <- struct{}{}:
			case <-cutoff.C:
				s.log.Warn("connect wait over before every device started", "started", i, "devices", len(s.devices))
				break starting
			case <-ctx.Done():
				return ctx.Err()
			}
			d := s.devices[i]
			a, err := s.newAgent(d)
			if err != nil {
				<-s.slots
				return err // a configuration the agent refuses is the same for all
			}
			d.agent = a
			d.inflight.Store(true)
			dctx, stop := context.WithCancel(runCtx)
			d.stop = stop
			go s.run(dctx, d)
		}
		if i == len(s.devices) {
			break
		}
		select {
		case <-tick.C:
		case <-cutoff.C:
			s.log.Warn("connect wait over before every device started", "started", i, "devices", len(s.devices))
			break starting
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.rampStartedAll = time.Since(start)
	wait := time.NewTimer(max(s.cfg.ConnectWait-time.Since(start), time.Second))
	defer wait.Stop()
	select {
	case <-s.allResolved:
	case <-wait.C:
		s.log.Warn("not every device connected within the connect wait", "wait", s.cfg.ConnectWait,
			"connected", s.m.firstConnected.Load(), "devices", len(s.devices))
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// releaseSlot frees d's ramp slot, once, and counts d as resolved.
func (s *sim) releaseSlot(d *device) {
	if !d.inflight.CompareAndSwap(true, false) {
		return
	}
	<-s.slots
	if s.resolved.Add(1) == int64(len(s.devices)) {
		close(s.allResolved)
	}
}
