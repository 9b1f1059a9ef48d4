package bench

import (
	"fmt"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// Idle goals, from the memory row's steady state.
const (
	// maxIdleRSSRatio: resident memory per idle device at most this many
	// times the bare crypto/tls listener's, held the same way.
	maxIdleRSSRatio = 1.2
	// maxIdleAlloc: bytes allocated per second by 10,000 idle devices.
	// Anything that runs per device per second would exceed it (10,000
	// devices times a single small allocation).
	maxIdleAlloc = 10_000
	// maxIdleCPU: % of one core spent on 10,000 idle devices.
	maxIdleCPU = 0.5
)

// idleGoals checks fleetgate's steady state after the idle hold: RSS per
// device against the bare listener's, garbage made and CPU spent while
// nothing happens. A goal whose figures were not measured is left out.
func idleGoals(b *report.Bench) []report.Goal {
	var out []report.Goal
	if row := b.Row(MetricIdle); row != nil {
		ours, ok1 := row.Values[NameFleetgate]
		bare, ok2 := row.Values[NameBare]
		if ok1 && ok2 && bare > 0 {
			v := ours / bare
			out = append(out, report.Goal{Name: "idle RSS per device vs bare TLS", Metric: MetricIdle, Of: NameFleetgate, Versus: NameBare,
				Value: v, Want: fmt.Sprintf("<= %.2f", maxIdleRSSRatio), Met: v <= maxIdleRSSRatio})
		}
	}
	if row := b.Row(MetricIdleGC); row != nil {
		if v, ok := row.Values[NameFleetgate]; ok {
			out = append(out, report.Goal{Name: "idle garbage, 10,000 devices", Metric: MetricIdleGC, Of: NameFleetgate,
				Value: v, Want: fmt.Sprintf("< %d B/s", maxIdleAlloc), Met: v < maxIdleAlloc})
		}
	}
	if row := b.Row(MetricIdleCPU); row != nil {
		if v, ok := row.Values[NameFleetgate]; ok {
			out = append(out, report.Goal{Name: "idle CPU, 10,000 devices", Metric: MetricIdleCPU, Of: NameFleetgate,
				Value: v, Want: fmt.Sprintf("< %.1f %%", maxIdleCPU), Met: v < maxIdleCPU})
		}
	}
	return out
}
