package fleet

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// fillStatic records the scenario, the host and the server.
func (s *sim) fillStatic() {
	c := s.cfg
	s.rep.Scenario = report.Scenario{
		Devices: c.Devices, TPMDevices: c.TPMDevices, IDPrefix: c.IDPrefix,
		ConnectRate: c.ConnectRate, RampSeconds: c.Ramp.Seconds(), MaxInflight: c.MaxInflight,
		PublishInterval: c.PublishInterval.Seconds(), QoS: c.QoS, PayloadBytes: c.PayloadSize,
		DurationSeconds: c.Duration.Seconds(), Storm: c.Storm, Rotate: c.Rotate, RevokeShare: c.RevokeShare,
		SourceAddrs: len(s.dialers.Sources()),
	}
	s.rep.Host.CPUs, s.rep.Host.GoVersion, s.rep.Host.SourceAddrs = runtime.NumCPU(), runtime.Version(), s.dialers.Sources()
	s.rep.Server = report.Server{StartedBySim: s.server != nil, Broker: s.broker, API: s.api, PID: s.target.ServerPID}
}

// finish fills the measured parts of the report and its checks.
func (s *sim) finish() {
	r, m := s.rep, s.m
	end := time.Now()
	r.Finished, r.Seconds = end.UTC(), roundTenth(end.Sub(m.start).Seconds())
	r.Enrollment, r.TLSHandshake, r.Connect, r.EndToEnd = m.enroll.Summary(), m.tls.Summary(), m.connect.Summary(), m.e2e.Summary()
	r.Errors = m.errs.Map()
	s.readCPU()
	r.Timeline = m.events()
	r.Series = map[string][]int64{
		"connects": m.connects.Counts(), "disconnects": m.disconnects.Counts(),
		"sent": m.sent.Counts(), "received": m.received.Counts(),
	}
	padSeries(r.Series)
	r.Histograms = map[string][]report.Bucket{
		"tls_handshake": report.Histogram(m.tls.Values()),
		"connect":       report.Histogram(m.connect.Values()),
		"end_to_end":    report.Histogram(m.e2e.Values()),
	}
	failed := 0
	for _, d := range s.devices {
		if d.agent == nil || d.revokedAt.Load() != 0 {
			continue
		}
		select {
		case <-d.done: // runErr is set before done closes
			if d.runErr != nil {
				failed++
			}
		default: // still running: awaitAgents gave up on it
		}
	}
	r.Devices = report.Devices{
		Requested: len(s.devices), Enrolled: int(m.enrolled.Load()), TPMEnrolled: int(m.tpmEnrolled.Load()),
		Connected: int(m.firstConnected.Load()), ConnectedPeak: int(m.peak.Load()), Failed: failed,
	}
	if last := s.lastFirst.Load(); last != 0 {
		if secs := time.Unix(0, last).Sub(m.start).Seconds() - s.rampOffset(); secs > 0 {
			r.ConnectRate.Ramp = float64(r.Devices.Connected) / secs
		}
	}
	for _, c := range r.Series["connects"] {
		r.ConnectRate.PeakSecond = max(r.ConnectRate.PeakSecond, c)
	}
	pubSecs := s.cfg.Duration.Seconds()
	r.Messages = report.Messages{
		Published: m.published.Load(), Acknowledged: m.acked.Load(), Received: m.recv.Load(), QueueFull: m.queueFull.Load(),
		SentPerSecond: float64(m.acked.Load()) / pubSecs, ReceivedPerSecond: float64(m.recv.Load()) / pubSecs,
	}
	if rv := r.Revocation; rv != nil {
		rv.Delay = m.revokeDelay.Summary()
		rv.Dropped = int(s.drops.n.Load()) // those noticed after the wait too
		rv.ReconnectedAfter = int(s.revokedBack.Load())
		if s.cfg.ExternalRevoke != nil {
			s.backMu.Lock()
			rv.BackUnixNano = slices.Clone(s.backAt)
			s.backMu.Unlock()
			rv.DropsUnixNano, rv.NoticedUnixNano = s.dropTimes()
		}
		for _, d := range s.devices {
			if d.revokedAt.Load() != 0 && isRevokedStop(d) {
				rv.AgentStopped++
			}
		}
	}
	if s.cfg.KeepSamples {
		r.Samples = map[string]report.SampleData{
			report.SampleEnrollment: m.enroll.Data(), report.SampleTLSHandshake: m.tls.Data(),
			report.SampleConnect: m.connect.Data(), report.SampleEndToEnd: m.e2e.Data(),
			report.SampleRotation: m.rotate.Data(), report.SampleRevokeDelay: m.revokeDelay.Data(),
		}
	}
	r.Checks = Checks(r)
}

// rampOffset is when the ramp began, in seconds since the start.
func (s *sim) rampOffset() float64 {
	for _, e := range s.m.events() {
		if e.Name == "ramp" {
			return e.Seconds
		}
	}
	return 0
}

// Checks judges a report by the scenario's expectations; a report merged
// from several processes is judged the same way.
func Checks(r *report.Report) []report.Check {
	var out []report.Check
	add := func(name string, ok bool, f string, a ...any) {
		out = append(out, report.Check{Name: name, OK: ok, Detail: fmt.Sprintf(f, a...)})
	}
	add("every device enrolled and connected", r.Devices.Connected == r.Devices.Requested,
		"%d of %d reached a session (%d TPM)", r.Devices.Connected, r.Devices.Requested, r.Devices.TPMEnrolled)
	msgs := r.Messages
	switch {
	case msgs.Published == 0:
		add("messages flow", false, "nothing was published (publish interval %gs longer than the run?)", r.Scenario.PublishInterval)
	case r.Scenario.QoS == 1:
		add("messages flow", msgs.Received > 0 && float64(msgs.Received) >= 0.95*float64(msgs.Acknowledged),
			"%d published, %d acknowledged, %d delivered back", msgs.Published, msgs.Acknowledged, msgs.Received)
	default:
		add("messages flow", msgs.Received > 0, "%d published, %d delivered back (QoS 0 may drop)", msgs.Published, msgs.Received)
	}
	if rt := r.Rotation; rt != nil {
		add("rotation under load", rt.Rotated == rt.Requested && rt.Reconnected == rt.Rotated,
			"%d of %d rotated, %d back with the new certificate", rt.Rotated, rt.Requested, rt.Reconnected)
	}
	if st := r.Storm; st != nil {
		add("reconnect storm", st.Expected > 0 && st.Reconnected == st.Expected,
			"%d sessions dropped, %d of %d devices back in %.1fs", st.Dropped, st.Reconnected, st.Expected, st.Seconds)
	}
	if rv := r.Revocation; rv != nil {
		add("revoked devices dropped", rv.Revoked > 0 && rv.Dropped >= rv.UpAtRevocation && rv.StillUp == 0,
			"%d revoked (%d in a session then), %d sessions dropped, %d still up at the end, delay p99 %.1f ms",
			rv.Revoked, rv.UpAtRevocation, rv.Dropped, rv.StillUp, rv.Delay.P99)
		// Staying out means no session: an agent whose connects time out
		// on a loaded host has not heard its refusal yet, but is not in.
		add("revoked devices stay out", rv.ReconnectedAfter == 0 && rv.ProbesAdmitted == 0 && (rv.Probes == 0 || rv.ProbesRefused > 0),
			"%d sessions after revocation%s; %d of %d probes refused, %d let in, %d unanswered in time; %d of %d agents stopped as revoked",
			rv.ReconnectedAfter, during(rv.ReconnectedDuring), rv.ProbesRefused, rv.Probes, rv.ProbesAdmitted,
			rv.Probes-rv.ProbesRefused-rv.ProbesAdmitted, rv.AgentStopped, rv.Revoked)
	}
	return out
}

// padSeries extends every series with zeros to the longest, so the
// charts' lines all run to the end of the run.
func padSeries(m map[string][]int64) {
	n := 0
	for _, v := range m {
		n = max(n, len(v))
	}
	for k, v := range m {
		for len(v) < n {
			v = append(v, 0)
		}
		m[k] = v
	}
}

// during describes the sessions revoked devices began while an outside
// bulk command ran, if any.
func during(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d more began while the command ran: a device is admitted until its part is written)", n)
}
