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
	// cpu is the brokers' CPU time per message received over the burst,
	// in µs, both brokers summed: a cost that, unlike messages/s, hardly
	// moves with what else the machine runs.
	cpu float64
}

// brokersCPU returns the CPU seconds the brokers used so far
// (process_cpu_seconds_total on their ops listeners).
func brokersCPU(tb testing.TB, brokers []*server) float64 {
	sum := 0.0
	for _, brk := range brokers {
		v := metric(tb, brk, "process_cpu_seconds_total")
		if v < 0 {
			tb.Fatalf("%s: no process_cpu_seconds_total on /metrics", brk.MQTT)
		}
		sum += v
	}
	return sum
}

// measureRoute runs a burst of n messages from pub to sub, counting the
// brokers' CPU, then paced messages at 1,000/s for latency.
func measureRoute(tb testing.TB, brokers []*server, pub *flowPub, sub *flowSub, n, paced int) routeRun {
	tb.Helper()
	before := brokersCPU(tb, brokers)
	burst, err := pub.run(sub, n, 0)
	if err != nil {
		tb.Fatal(err)
	}
	used := brokersCPU(tb, brokers) - before
	var run routeRun
	run.burst = burst
	if burst.received > 0 {
		run.cpu = used * 1e6 / float64(burst.received)
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
