package report

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ErrNoSamples is returned by Merge for a report without its samples.
var ErrNoSamples = errors.New("report: no samples to merge")

// Merge joins the reports of simulator processes that ran parts of one
// fleet at the same time into the report of the whole fleet. Counts add
// up; latency summaries are recomputed from the processes' samples (not
// averaged), histograms and per-second series are added (the series
// aligned on the processes' start times); events keep their first
// occurrence. Peak sessions is the sum of the processes' peaks, so at
// most the true peak. Broker memory is the lowest baseline and the
// highest connected reading of the processes. The merged report has one
// Procs row per part, no samples and no checks: the caller judges it.
func Merge(parts []*Report) (*Report, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no reports", ErrNoSamples)
	}
	for i, p := range parts {
		if p.Samples == nil {
			return nil, fmt.Errorf("%w: report %d", ErrNoSamples, i)
		}
	}
	first := parts[0]
	r := &Report{Schema: SchemaVersion, Started: first.Started, Finished: first.Finished,
		Scenario: first.Scenario, Host: first.Host, Server: first.Server, Errors: map[string]int64{}}
	r.Host.SourceAddrs = nil
	r.Scenario.Devices, r.Scenario.TPMDevices, r.Scenario.Rotate = 0, 0, 0
	r.Scenario.SourceAddrs, r.Scenario.MaxInflight, r.Scenario.ConnectRate = 0, 0, 0
	for _, p := range parts {
		r.Started = minTime(r.Started, p.Started)
		if p.Finished.After(r.Finished) {
			r.Finished = p.Finished
		}
	}
	r.Seconds = float64(r.Finished.Sub(r.Started).Round(100*time.Millisecond)) / float64(time.Second)
	samples := map[string][]SampleData{}
	for i, p := range parts {
		addScenario(&r.Scenario, p.Scenario)
		r.Host.SourceAddrs = append(r.Host.SourceAddrs, p.Host.SourceAddrs...)
		addDevices(&r.Devices, p.Devices)
		r.ConnectRate.Ramp += p.ConnectRate.Ramp
		addMessages(&r.Messages, p.Messages)
		for k, n := range p.Errors {
			r.Errors[k] += n
		}
		for k, d := range p.Samples {
			samples[k] = append(samples[k], d)
		}
		r.Procs = append(r.Procs, Proc{Index: i, Devices: p.Scenario.Devices, Connected: p.Devices.Connected,
			RSSBaseline: p.Memory.SimBaseline, RSSConnected: p.Memory.SimConnected, PerDevice: p.Memory.SimPerDevice})
		r.Rotation = addRotation(r.Rotation, p.Rotation)
		r.Storm = addStorm(r.Storm, p.Storm)
		r.Revocation = addRevocation(r.Revocation, p.Revocation)
	}
	r.Enrollment = SummaryOf(samples[SampleEnrollment]...)
	r.TLSHandshake = SummaryOf(samples[SampleTLSHandshake]...)
	r.Connect = SummaryOf(samples[SampleConnect]...)
	r.EndToEnd = SummaryOf(samples[SampleEndToEnd]...)
	if r.Rotation != nil {
		r.Rotation.Latency = SummaryOf(samples[SampleRotation]...)
	}
	if r.Revocation != nil {
		r.Revocation.Delay = SummaryOf(samples[SampleRevokeDelay]...)
	}
	r.Memory = mergeMemory(parts, r.Devices.Connected)
	r.Series, r.Timeline, r.Histograms = mergeSeries(r.Started, parts), mergeTimeline(r.Started, parts), mergeHistograms(parts)
	for _, c := range r.Series["connects"] {
		r.ConnectRate.PeakSecond = max(r.ConnectRate.PeakSecond, c)
	}
	return r, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func addScenario(s *Scenario, p Scenario) {
	s.Devices += p.Devices
	s.TPMDevices += p.TPMDevices
	s.Rotate += p.Rotate
	s.SourceAddrs += p.SourceAddrs
	s.MaxInflight += p.MaxInflight
	s.ConnectRate += p.ConnectRate
}

func addDevices(d *Devices, p Devices) {
	d.Requested += p.Requested
	d.Enrolled += p.Enrolled
	d.TPMEnrolled += p.TPMEnrolled
	d.Connected += p.Connected
	d.ConnectedPeak += p.ConnectedPeak
	d.Failed += p.Failed
}

func addMessages(m *Messages, p Messages) {
	m.Published += p.Published
	m.Acknowledged += p.Acknowledged
	m.Received += p.Received
	m.SentPerSecond += p.SentPerSecond
	m.ReceivedPerSecond += p.ReceivedPerSecond
	m.QueueFull += p.QueueFull
}

func addRotation(r, p *Rotation) *Rotation {
	if p == nil {
		return r
	}
	if r == nil {
		r = &Rotation{}
	}
	r.Requested += p.Requested
	r.Rotated += p.Rotated
	r.Failed += p.Failed
	r.Reconnected += p.Reconnected
	return r
}

func addStorm(s, p *Storm) *Storm {
	if p == nil {
		return s
	}
	if s == nil {
		s = &Storm{}
	}
	s.Dropped += p.Dropped
	s.Expected += p.Expected
	s.Reconnected += p.Reconnected
	s.Seconds = max(s.Seconds, p.Seconds)
	s.Attempts += p.Attempts
	s.FailedAttempt += p.FailedAttempt
	return s
}

func addRevocation(r, p *Revocation) *Revocation {
	if p == nil {
		return r
	}
	if r == nil {
		r = &Revocation{}
	}
	r.Revoked += p.Revoked
	r.UpAtRevocation += p.UpAtRevocation
	r.Dropped += p.Dropped
	r.StillUp += p.StillUp
	r.ReconnectedAfter += p.ReconnectedAfter
	r.AgentStopped += p.AgentStopped
	r.ProbesRefused += p.ProbesRefused
	r.ProbesAdmitted += p.ProbesAdmitted
	r.Probes += p.Probes
	r.DropsUnixNano = append(r.DropsUnixNano, p.DropsUnixNano...)
	r.NoticedUnixNano = append(r.NoticedUnixNano, p.NoticedUnixNano...)
	r.ReconnectedDuring += p.ReconnectedDuring
	r.BackUnixNano = append(r.BackUnixNano, p.BackUnixNano...)
	return r
}

// mergeMemory adds the simulators' memory and takes the broker's widest
// readings; per device is over the connected devices of all processes.
func mergeMemory(parts []*Report, connected int) Memory {
	m := Memory{BrokerSource: parts[0].Memory.BrokerSource}
	for i, p := range parts {
		pm := p.Memory
		m.SimBaseline += pm.SimBaseline
		m.SimConnected += pm.SimConnected
		if rt := pm.Sim; rt != nil {
			if m.Sim == nil {
				m.Sim = &RuntimeMemory{}
			}
			m.Sim.HeapBaseline += rt.HeapBaseline
			m.Sim.HeapConnected += rt.HeapConnected
			m.Sim.StackBaseline += rt.StackBaseline
			m.Sim.StackConnected += rt.StackConnected
			m.Sim.GoroutinesBaseline += rt.GoroutinesBaseline
			m.Sim.GoroutinesConnected += rt.GoroutinesConnected
			m.Sim.CPUSeconds += rt.CPUSeconds
			m.Sim.GCCPUSeconds += rt.GCCPUSeconds
			m.Sim.GCCycles += rt.GCCycles
			m.Sim.MaxRSS += rt.MaxRSS
		}
		if pm.BrokerSource != m.BrokerSource {
			m.BrokerSource = ""
		}
		if i == 0 || pm.BrokerBaseline < m.BrokerBaseline {
			m.BrokerBaseline = pm.BrokerBaseline
		}
		m.BrokerConnected = max(m.BrokerConnected, pm.BrokerConnected)
	}
	if connected > 0 {
		per := func(after, before uint64) float64 {
			if after < before {
				return 0
			}
			return float64(after-before) / float64(connected)
		}
		m.SimPerDevice = per(m.SimConnected, m.SimBaseline)
		if m.Sim != nil {
			m.Sim.PerDevice(int64(connected))
		}
		if m.BrokerSource != "" {
			m.BrokerPerDevice = per(m.BrokerConnected, m.BrokerBaseline)
		}
	}
	return m
}

// offset is how many whole seconds after start a part began.
func offset(start time.Time, p *Report) int { return int(p.Started.Sub(start) / time.Second) }

// mergeSeries adds the per-second series, each shifted by its part's
// start, and pads them to one length.
func mergeSeries(start time.Time, parts []*Report) map[string][]int64 {
	out := map[string][]int64{}
	n := 0
	for _, p := range parts {
		off := offset(start, p)
		for k, vals := range p.Series {
			s := out[k]
			for len(s) < off+len(vals) {
				s = append(s, 0)
			}
			for i, v := range vals {
				s[off+i] += v
			}
			out[k] = s
			n = max(n, len(s))
		}
	}
	for k, s := range out {
		for len(s) < n {
			s = append(s, 0)
		}
		out[k] = s
	}
	return out
}

// mergeTimeline keeps each event's first occurrence over the parts, in
// seconds since start.
func mergeTimeline(start time.Time, parts []*Report) []Event {
	first := map[string]float64{}
	for _, p := range parts {
		shift := p.Started.Sub(start).Seconds()
		for _, e := range p.Timeline {
			t := float64(int64((e.Seconds+shift)*10+0.5)) / 10
			if old, ok := first[e.Name]; !ok || t < old {
				first[e.Name] = t
			}
		}
	}
	out := make([]Event, 0, len(first))
	for name, t := range first {
		out = append(out, Event{Seconds: t, Name: name})
	}
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Seconds, b.Seconds), strings.Compare(a.Name, b.Name))
	})
	return out
}

func mergeHistograms(parts []*Report) map[string][]Bucket {
	keys := map[string]bool{}
	for _, p := range parts {
		for k := range p.Histograms {
			keys[k] = true
		}
	}
	out := map[string][]Bucket{}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		var hs [][]Bucket
		for _, p := range parts {
			hs = append(hs, p.Histograms[k])
		}
		out[k] = MergeHistograms(hs...)
	}
	return out
}
