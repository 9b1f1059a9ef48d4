package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// printFleetSummary logs BenchmarkFleet's table: rates, latencies,
// memory per process and per device, the revocation and the checks.
// brokerDrops is how the brokers timed the revocation's drops (empty: it
// did not run); streams is what the bus wrote to each JetStream stream.
func printFleetSummary(b *testing.B, c fleetBench, r *report.Report, brokerDrops, streams string) {
	var sb strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&sb, "| %-44s | %s |\n", k, fmt.Sprintf(f, a...)) }
	fmt.Fprintf(&sb, "\n| %-44s | %s |\n|---|---|\n", "bench-100k", "result")
	row("devices / brokers / simulator processes", "%d / %d / %d", c.devices, c.brokers, c.procs)
	row("enrolled / connected / peak sessions", "%d / %d / %d", r.Devices.Enrolled, r.Devices.Connected, r.Devices.ConnectedPeak)
	row("connects/s (ramp; peak second)", "%.0f; %d", r.ConnectRate.Ramp, r.ConnectRate.PeakSecond)
	row("messages/s sent (QoS 1 acknowledged) / received", "%.0f / %.0f", r.Messages.SentPerSecond, r.Messages.ReceivedPerSecond)
	row("end to end p50 / p99 (ms)", "%.1f / %.1f", r.EndToEnd.P50, r.EndToEnd.P99)
	row("enrollment p50 / p99 (ms)", "%.0f / %.0f", r.Enrollment.P50, r.Enrollment.P99)
	row("simulator memory per device", "%.1f KiB (%.0f MiB in all)", r.Memory.SimPerDevice/1024, float64(r.Memory.SimConnected)/(1<<20))
	if rt := r.Memory.Sim; rt != nil {
		row("simulator heap / stacks / goroutines per device", "%.1f KiB / %.1f KiB / %.1f", rt.HeapPerDevice/1024, rt.StackPerDevice/1024, rt.GoroutinesPerDevice)
		row("simulators' CPU, collections", "%.0f s, %d collections", rt.CPUSeconds, rt.GCCycles)
	}
	row("broker memory per device", "%.1f KiB (%.0f MiB in all)", r.Memory.BrokerPerDevice/1024, float64(r.Memory.BrokerConnected)/(1<<20))
	if cl := r.Cluster; cl != nil {
		for i, br := range cl.Brokers {
			row(fmt.Sprintf("broker %d RSS (%d devices)", i, br.Devices), "%.0f MiB, %.1f KiB per device", float64(br.RSSConnected)/(1<<20), br.PerDevice/1024)
		}
		if rv := cl.Revocation; rv != nil {
			row("revocation: devices, command time", "%d, %.2f s %s", rv.Devices, rv.CommandSeconds, rv.Error)
			row("revocation: sessions up at the return", "%d", rv.OpenAtReturn)
			row("revocation: processes publishing at the command", "%d of %d", rv.ProcsPublishing, rv.Procs)
			row("revocation: drop after return p50/p99/max", "%.0f / %.0f / %.0f ms (%d drops, as the devices' kernels received it)", rv.AfterReturn.P50, rv.AfterReturn.P99, rv.AfterReturn.Max, rv.AfterReturn.Count)
			row("revocation: noticed after return p50/p99/max", "%.0f / %.0f / %.0f ms (as the simulators' code saw it)", rv.NoticedAfterReturn.P50, rv.NoticedAfterReturn.P99, rv.NoticedAfterReturn.Max)
			row("revocation: drop after start p50/p99/max", "%.0f / %.0f / %.0f ms", rv.FromStart.P50, rv.FromStart.P99, rv.FromStart.Max)
			if brokerDrops != "" {
				row("revocation: at the brokers, commit to drop", "%s", brokerDrops)
			}
		}
	}
	row("bus streams (messages written, held)", "%s", streams)
	for _, p := range r.Procs {
		row(fmt.Sprintf("simulator %d RSS (%d devices)", p.Index, p.Devices), "%.0f MiB (max %.0f), %.1f KiB per device",
			float64(p.RSSConnected)/(1<<20), float64(p.MaxRSS)/(1<<20), p.PerDevice/1024)
	}
	for _, ck := range r.Checks {
		mark := "ok"
		if !ck.OK {
			mark = "FAILED"
		}
		row("check: "+ck.Name, "%s: %s", mark, ck.Detail)
	}
	b.Log(sb.String())
}
