package test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// routeRun is one measured flow of BenchmarkBusRouting.
type routeRun struct {
	burst, paced flowResult
	// cpu and allocs are the brokers' CPU time (µs) and heap allocations
	// per message received over the burst, both brokers summed: costs
	// that, unlike messages/s, hardly move (allocations: not at all)
	// with what else the machine runs.
	cpu, allocs float64
}

// brokerTotals returns the CPU seconds and the heap allocations the
// brokers made so far (process_cpu_seconds_total and
// go_memstats_mallocs_total on their ops listeners).
func brokerTotals(tb testing.TB, brokers []*server) (cpu, mallocs float64) {
	for _, brk := range brokers {
		c, m := metric(tb, brk, "process_cpu_seconds_total"), metric(tb, brk, "go_memstats_mallocs_total")
		if c < 0 || m < 0 {
			tb.Fatalf("%s: no process_cpu_seconds_total or go_memstats_mallocs_total on /metrics", brk.MQTT)
		}
		cpu, mallocs = cpu+c, mallocs+m
	}
	return cpu, mallocs
}

// measureRoute runs a burst of n messages from pub to sub, counting the
// brokers' CPU and allocations, then paced messages at 1,000/s for
// latency.
func measureRoute(tb testing.TB, brokers []*server, pub *flowPub, sub *flowSub, n, paced int) routeRun {
	tb.Helper()
	cpu0, mallocs0 := brokerTotals(tb, brokers)
	burst, err := pub.run(sub, n, 0)
	if err != nil {
		tb.Fatal(err)
	}
	cpu1, mallocs1 := brokerTotals(tb, brokers)
	run := routeRun{burst: burst}
	if burst.received > 0 {
		run.cpu = (cpu1 - cpu0) * 1e6 / float64(burst.received)
		run.allocs = (mallocs1 - mallocs0) / float64(burst.received)
	}
	if paced > 0 {
		if run.paced, err = pub.run(sub, paced, time.Millisecond); err != nil {
			tb.Fatal(err)
		}
	}
	return run
}

// loadAverage returns the machine's 1, 5 and 15 minute load averages as
// /proc/loadavg gives them, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// ratiosText prints per-round ratios for a log line.
func ratiosText(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " / ")
}
