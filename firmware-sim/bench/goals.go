package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// goals checks the broker's targets: at least 0.90 of the bare TLS
// listener's connects/s, at least 1.5x Mosquitto's, at least 0.90 of plain
// mochi's messages/s at QoS 0 and 1, and the idle goals (idleGoals). A ratio is the median of the rounds' ratios: on a shared
// machine one disturbed round then moves it less than it moves the
// totals.
func goals(b *report.Bench) []report.Goal {
	var out []report.Goal
	ratio := func(name, metric, versus string, min float64) {
		row := b.Row(metric)
		if row == nil {
			return // not measured in this run
		}
		ours, ok1 := row.Values[NameFleetgate]
		ref, ok2 := row.Values[versus]
		if !ok1 || !ok2 || ref == 0 {
			return
		}
		g := report.Goal{Name: name, Metric: metric, Of: NameFleetgate, Versus: versus, Value: ours / ref, Want: fmt.Sprintf(">= %.2f", min)}
		if a, r := row.Rounds[NameFleetgate], row.Rounds[versus]; len(a) > 0 && len(a) == len(r) {
			for i := range a {
				if r[i] > 0 {
					g.PerRound = append(g.PerRound, a[i]/r[i])
				}
			}
			if len(g.PerRound) > 0 {
				g.Value = median(g.PerRound)
			}
		}
		g.Met = g.Value >= min
		out = append(out, g)
	}
	ratio("connects/s vs bare TLS", MetricConnects, NameBare, 0.90)
	ratio("connects/s vs Mosquitto", MetricConnects, NameMosquitto, 1.5)
	ratio("QoS 0 messages/s vs plain mochi", MetricQoS0, NameMochi, 0.90)
	ratio("QoS 1 messages/s vs plain mochi", MetricQoS1, NameMochi, 0.90)
	out = append(out, idleGoals(b)...)
	return out
}

// PrintTable writes the rows side by side and the goals with their
// ratios.
func PrintTable(w io.Writer, b *report.Bench) {
	fmt.Fprintf(w, "%-32s", "metric")
	for _, c := range b.Contenders {
		fmt.Fprintf(w, "%16s", c.Name)
	}
	fmt.Fprintln(w)
	for _, row := range b.Rows {
		fmt.Fprintf(w, "%-32s", row.Metric)
		for _, c := range b.Contenders {
			v, ok := row.Values[c.Name]
			switch {
			case !ok:
				fmt.Fprintf(w, "%16s", "-")
			case row.Metric == MetricIdle:
				fmt.Fprintf(w, "%12.1f KiB", v/1024)
			case row.Metric == MetricIdleCPU:
				fmt.Fprintf(w, "%14.2f %%", v)
			case row.Metric == MetricIdleGC:
				fmt.Fprintf(w, "%12.0f B/s", v)
			case row.Metric == MetricConnP99:
				fmt.Fprintf(w, "%13.2f ms", v)
			default:
				fmt.Fprintf(w, "%16.0f", v)
			}
		}
		fmt.Fprintln(w)
	}
	if b.Row(MetricConnects) != nil { // negotiated by the connect rounds
		fmt.Fprintf(w, "%-32s", "key exchange")
		for _, c := range b.Contenders {
			fmt.Fprintf(w, "%16s", c.KeyExchange)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%-34s %12s %12s  %-7s %s\n", "goal (fleetgate)", "value", "want", "result", "per round")
	for _, g := range b.Goals {
		val, want := fmt.Sprintf("%.2f", g.Value), g.Want
		switch g.Metric {
		case MetricIdleGC:
			val = fmt.Sprintf("%.0f B/s", g.Value)
		case MetricIdleCPU:
			val = fmt.Sprintf("%.2f %%", g.Value)
		}
		res := "met"
		if !g.Met {
			res = "MISSED"
		}
		var rounds []string
		for _, r := range g.PerRound {
			rounds = append(rounds, fmt.Sprintf("%.2f", r))
		}
		fmt.Fprintf(w, "%-34s %12s %12s  %-7s %s\n", g.Name, val, want, res, strings.Join(rounds, " "))
	}
	fmt.Fprintf(w, "(%d CPUs, %d rounds of %.1fs, %s)\n", NumCPU, b.Settings.Rounds, b.Settings.RoundSeconds, strings.TrimSpace(gogcNote(b.Settings.GOGC)))
}

func gogcNote(g string) string {
	if g == "" { // runs before every Go server got the same setting
		return "GOGC unset: fleetgate at its gc_percent, the other Go servers at Go's default"
	}
	return "GOGC=" + g + " for every Go server"
}

// median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
