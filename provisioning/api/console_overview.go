package api

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetgate/fleetgate/store"
)

// Overview figures. The hub samples every tick; rates are counted over the
// trailing minute of samples, so one connect shows as 1/min, not as
// 30/min from a two-second delta.
const (
	overviewPoints  = 90 // samples sent to a console (3 minutes at 2 s)
	overviewKeep    = overviewPoints + 40
	recountInterval = 5 * time.Second // at most one device recount per interval
	auditBatch      = 10000
)

// overview is the event the live overview receives.
type overview struct {
	Time     time.Time                  `json:"time"`
	Devices  map[store.DeviceStatus]int `json:"devices"`
	Sessions *float64                   `json:"sessions"` // nil: no broker here
	Series   overviewSeries             `json:"series"`
	Totals   map[string]int             `json:"totals"` // since the first console opened
}

// overviewSeries holds per-minute rates, one value per label.
type overviewSeries struct {
	Labels      []string             `json:"labels"`
	Connects    []float64            `json:"connects"`
	Refusals    map[string][]float64 `json:"refusals"` // by reason
	Enrolments  []float64            `json:"enrolments"`
	Revocations []float64            `json:"revocations"`
}

// sample is one tick's cumulative counters.
type sample struct {
	t           time.Time
	connects    float64
	refusals    map[string]float64
	enrolments  float64
	revocations float64
}

// overviewSampler builds overview events. Only the hub's goroutine calls
// Sample, so it needs no lock.
type overviewSampler struct {
	a        *API
	samples  []sample
	auditSeq uint64
	started  bool
	counts   map[store.DeviceStatus]int
	counted  time.Time
	dirty    bool
	enrolled int
	revoked  int
}

func newOverviewSampler(a *API) *overviewSampler { return &overviewSampler{a: a} }

// Sample implements console.Sampler.
func (s *overviewSampler) Sample(ctx context.Context) ([]byte, error) {
	now := s.a.now()
	if !s.started {
		// Start counting at the newest audit event: totals are since now.
		last, err := s.a.db.Audit(ctx, store.AuditFilter{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(last) == 1 {
			s.auditSeq = last[0].Seq
		}
		s.started, s.dirty, s.samples = true, true, nil
	}
	if err := s.readAudit(ctx); err != nil {
		return nil, err
	}
	if s.dirty && now.Sub(s.counted) >= recountInterval {
		counts, err := s.a.db.DeviceCounts(ctx)
		if err != nil {
			return nil, err
		}
		s.counts, s.counted, s.dirty = counts, now, false
	}
	cur := sample{t: now, refusals: map[string]float64{}, enrolments: float64(s.enrolled), revocations: float64(s.revoked)}
	sessions := s.gather(&cur)
	s.samples = append(s.samples, cur)
	if len(s.samples) > overviewKeep {
		s.samples = s.samples[len(s.samples)-overviewKeep:]
	}
	return json.Marshal(overview{
		Time: now, Devices: s.counts, Sessions: sessions, Series: s.series(),
		Totals: map[string]int{"enrolments": s.enrolled, "revocations": s.revoked},
	})
}

// readAudit counts the audit events since the last tick: enrolments,
// revocations, and whether any device changed (then the counts are
// stale). An idle fleet costs one seek past the last event.
func (s *overviewSampler) readAudit(ctx context.Context) error {
	events, err := s.a.db.Audit(ctx, store.AuditFilter{AfterSeq: s.auditSeq, Head: auditBatch})
	if err != nil {
		return err
	}
	for _, e := range events {
		s.auditSeq = e.Seq
		switch e.Action {
		case "device.enroll", "cert.issue":
			s.enrolled++
		case "device.revoke": // its certificates' cert.revoke events are not counted again
			s.revoked++
		}
		if strings.HasPrefix(e.Action, "device.") {
			s.dirty = true
		}
	}
	return nil
}

// gather reads the broker's counters into cur and returns the number of
// live sessions, nil when there is no broker's gauge.
func (s *overviewSampler) gather(cur *sample) *float64 {
	if s.a.cfg.Gatherer == nil {
		return nil
	}
	families, err := s.a.cfg.Gatherer.Gather()
	if err != nil {
		s.a.log.Warn("console: gather metrics", "err", err)
	}
	var sessions *float64
	for _, f := range families {
		switch f.GetName() {
		case "fleetgate_broker_connected_devices":
			for _, m := range f.GetMetric() {
				v := m.GetGauge().GetValue()
				sessions = &v
			}
		case "fleetgate_broker_connects_total":
			for _, m := range f.GetMetric() {
				cur.connects += m.GetCounter().GetValue()
			}
		case "fleetgate_broker_connect_refusals_total", "fleetgate_broker_tls_handshake_failures_total":
			prefix := ""
			if strings.Contains(f.GetName(), "tls") {
				prefix = "tls: "
			}
			for _, m := range f.GetMetric() {
				cur.refusals[prefix+label(m.GetLabel(), "reason")] += m.GetCounter().GetValue()
			}
		}
	}
	return sessions
}

// series turns the kept samples into per-minute rates.
func (s *overviewSampler) series() overviewSeries {
	from := max(0, len(s.samples)-overviewPoints)
	out := overviewSeries{Refusals: map[string][]float64{}}
	reasons := map[string]bool{}
	for _, x := range s.samples {
		for r := range x.refusals {
			reasons[r] = true
		}
	}
	for i := from; i < len(s.samples); i++ {
		cur, base := s.samples[i], s.minuteAgo(i)
		out.Labels = append(out.Labels, cur.t.UTC().Format("15:04:05"))
		out.Connects = append(out.Connects, cur.connects-base.connects)
		out.Enrolments = append(out.Enrolments, cur.enrolments-base.enrolments)
		out.Revocations = append(out.Revocations, cur.revocations-base.revocations)
		for r := range reasons {
			out.Refusals[r] = append(out.Refusals[r], cur.refusals[r]-base.refusals[r])
		}
	}
	return out
}

// minuteAgo is the oldest kept sample at most a minute older than sample i.
func (s *overviewSampler) minuteAgo(i int) sample {
	j := i
	for j > 0 && s.samples[i].t.Sub(s.samples[j-1].t) <= time.Minute {
		j--
	}
	return s.samples[j]
}

func label(pairs []*dto.LabelPair, name string) string {
	for _, p := range pairs {
		if p.GetName() == name {
			return p.GetValue()
		}
	}
	return ""
}

var _ prometheus.Gatherer = (*prometheus.Registry)(nil)
