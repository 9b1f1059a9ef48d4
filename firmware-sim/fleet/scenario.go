package fleet

import (
	"context"
	"errors"
	"time"
)

// scenario runs the phases: ramp, idle settle with memory readings,
// steady publishing with rotation, storm and revocation spread over it,
// then a clean stop.
func (s *sim) scenario(ctx context.Context) error {
	runCtx, stopAgents := context.WithCancel(context.Background())
	defer stopAgents()
	stopProgress := s.startProgress()
	defer stopProgress()
	var external *externalMarks
	if s.cfg.ExternalRevokeEvery > 0 {
		external = s.watchExternal(ctx)
	}

	s.readBaseline()
	s.rep.Memory.BrokerBaseline, s.rep.Memory.BrokerSource = s.brokerRSS(ctx)
	s.m.mark("ramp")
	if err := s.ramp(ctx, runCtx); err != nil {
		return err
	}
	s.m.mark("connected")
	if !sleepCtx(ctx, s.cfg.Settle) {
		return ctx.Err()
	}
	s.readMemory(ctx)

	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); s.publish(pubCtx) }()
	s.m.mark("publishing")
	steadyStart := time.Now()
	step := s.cfg.Duration / 4
	wait := func(n int) bool { return sleepCtx(ctx, time.Until(steadyStart.Add(time.Duration(n)*step))) }

	if s.cfg.Rotate > 0 && wait(1) {
		s.rep.Rotation = s.rotate(ctx)
	}
	if s.cfg.Storm && wait(2) {
		s.rep.Storm = s.runStorm(ctx)
	}
	if s.cfg.RevokeShare > 0 && wait(3) {
		s.rep.Revocation = s.revoke(ctx)
	}
	if s.cfg.ExternalRevokeEvery > 0 {
		s.rep.Revocation = s.revokeExternal(ctx, external, time.Until(steadyStart.Add(3*step)))
	}
	wait(4)
	stopPub()
	<-pubDone
	// Let the last messages come back before the devices leave.
	sleepCtx(ctx, min(2*time.Second, s.cfg.PublishInterval))
	if err := ctx.Err(); err != nil {
		return err
	}
	s.m.mark("stop")
	if rv := s.rep.Revocation; rv != nil {
		for _, d := range s.devices {
			if d.revokedAt.Load() != 0 && d.up.Load() {
				rv.StillUp++
			}
		}
		s.probeRevoked(ctx, rv)
	}
	s.stopPaced(ctx)
	stopAgents()
	s.awaitAgents(60 * time.Second)
	return nil
}

// stopRateFactor paces the clean stop at the end of a run: agents stop at
// this multiple of the connect rate. A DISCONNECT costs a broker far less
// than a handshake, but tens of thousands in the same second kept the
// brokers from answering the pings of the devices not yet stopped
// (bench-100k run 14: ~6,300 sessions lost to unanswered pings as it
// stopped).
const stopRateFactor = 4

// stopPaced stops the agents one after another at stopRateFactor times the
// connect rate; each disconnects cleanly. It returns early when ctx ends.
func (s *sim) stopPaced(ctx context.Context) {
	rate := stopRateFactor * s.cfg.ConnectRate
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(s.devices); {
		due := min(len(s.devices), 1+int(time.Since(start).Seconds()*rate))
		for ; i < due; i++ {
			if stop := s.devices[i].stop; stop != nil {
				stop()
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// readMemory takes the "all connected, idle" memory readings.
func (s *sim) readMemory(ctx context.Context) {
	mem := &s.rep.Memory
	s.readSimConnected()
	var src string
	mem.BrokerConnected, src = s.brokerRSS(ctx)
	if src != mem.BrokerSource {
		mem.BrokerSource = "" // one of the readings failed: no figure
	}
	if up := s.m.up.Load(); up > 0 {
		mem.SimPerDevice = perDevice(mem.SimConnected, mem.SimBaseline, up)
		mem.Sim.PerDevice(up)
		if mem.BrokerSource != "" {
			mem.BrokerPerDevice = perDevice(mem.BrokerConnected, mem.BrokerBaseline, up)
		}
	}
}

func perDevice(after, before uint64, n int64) float64 {
	if after < before {
		return 0
	}
	return float64(after-before) / float64(n)
}

// awaitAgents waits for every started agent's Run to return.
func (s *sim) awaitAgents(limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, d := range s.devices {
		if d.agent == nil {
			continue
		}
		select {
		case <-d.done:
		case <-deadline.C:
			s.log.Warn("agents still running at the end", "limit", limit)
			s.m.errs.Inc("agent: did not stop within " + limit.String())
			return
		}
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errShort is the first line of an error for an error kind.
func errShort(err error) string {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.phase + ": " + errClass(pe.err)
	}
	return errClass(err)
}
