package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
)

// WriteHTML writes r as one self-contained page: inline CSS and inline SVG
// charts, no scripts, no external resources.
func WriteHTML(w io.Writer, r *Report) error {
	if err := page.Execute(w, view(r)); err != nil {
		return fmt.Errorf("report: render HTML: %w", err)
	}
	return nil
}

// pageView is what the template renders: the report plus its charts.
type pageView struct {
	R          *Report
	Charts     []template.HTML
	ErrorKinds []string
	BenchChart []template.HTML
}

func view(r *Report) pageView {
	v := pageView{R: r, ErrorKinds: slices.Sorted(maps.Keys(r.Errors))}
	if s := r.Series; len(s) > 0 {
		v.Charts = append(v.Charts,
			lineChart("Connects over time", "per second", []LineSeries{
				{Name: "connects", Values: s["connects"]}, {Name: "disconnects", Values: s["disconnects"]},
			}, r.Timeline),
			lineChart("Messages over time", "per second", []LineSeries{
				{Name: "sent", Values: s["sent"]}, {Name: "received", Values: s["received"]},
			}, r.Timeline))
	}
	for _, h := range []struct{ key, title string }{
		{"tls_handshake", "TLS handshake latency"},
		{"connect", "CONNECT to CONNACK latency"},
		{"end_to_end", "End-to-end message latency"},
	} {
		if b := r.Histograms[h.key]; len(b) > 0 {
			v.Charts = append(v.Charts, histogramChart(h.title+" (histogram)", b))
		}
	}
	v.Charts = append(v.Charts, clusterCharts(r)...)
	if b := r.Bench; b != nil {
		for _, row := range b.Rows {
			var labels []string
			var vals []float64
			for _, c := range b.Contenders {
				if x, ok := row.Values[c.Name]; ok {
					labels, vals = append(labels, c.Name), append(vals, x)
				}
			}
			if len(labels) > 0 {
				v.BenchChart = append(v.BenchChart, barChart(row.Metric, row.Unit, labels, vals))
			}
		}
	}
	return v
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": formatNum,
	"kib": func(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) },
	"mib": func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) },
	"value": func(row BenchRow, name string) string {
		if x, ok := row.Values[name]; ok {
			return formatNum(x)
		}
		return "–"
	},
}).Parse(pageTemplate))

const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>fleetgate firmware-sim report</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:980px;color:#111}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}
.ok{color:#15803d}.fail{color:#b91c1c;font-weight:bold}
svg.chart{width:100%;height:auto;margin:10px 0;background:#fff;border:1px solid #eee}
svg text{font-size:11px;fill:#333}
</style></head><body>
<h1>fleetgate firmware-sim report</h1>
{{with .R}}
{{if .Scenario.Devices}}
<p>{{.Started.Format "2006-01-02 15:04:05 UTC"}} · {{printf "%.0f" .Seconds}} s · {{.Scenario.Devices}} devices ({{.Scenario.TPMDevices}} TPM) ·
QoS {{.Scenario.QoS}} · {{.Scenario.PayloadBytes}} B every {{.Scenario.PublishInterval}} s · broker {{.Server.Broker}}{{if .Server.StartedBySim}} (started by the simulator){{end}}</p>

<h2>Checks</h2>
<table><tr><th>check</th><th>result</th><th>detail</th></tr>
{{range .Checks}}<tr><td>{{.Name}}</td><td class="{{if .OK}}ok{{else}}fail{{end}}">{{if .OK}}ok{{else}}FAILED{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>

<h2>Summary</h2>
<table><tr><th>devices</th><th>enrolled</th><th>TPM enrolled</th><th>connected</th><th>peak sessions</th><th>failed</th></tr>
<tr><td>{{.Devices.Requested}}</td><td>{{.Devices.Enrolled}}</td><td>{{.Devices.TPMEnrolled}}</td><td>{{.Devices.Connected}}</td><td>{{.Devices.ConnectedPeak}}</td><td>{{.Devices.Failed}}</td></tr></table>
<table><tr><th>latency (ms)</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>
<tr><td>enrollment</td><td>{{.Enrollment.Count}}</td><td>{{.Enrollment.P50}}</td><td>{{.Enrollment.P95}}</td><td>{{.Enrollment.P99}}</td><td>{{.Enrollment.Max}}</td></tr>
<tr><td>TLS handshake</td><td>{{.TLSHandshake.Count}}</td><td>{{.TLSHandshake.P50}}</td><td>{{.TLSHandshake.P95}}</td><td>{{.TLSHandshake.P99}}</td><td>{{.TLSHandshake.Max}}</td></tr>
<tr><td>CONNECT→CONNACK</td><td>{{.Connect.Count}}</td><td>{{.Connect.P50}}</td><td>{{.Connect.P95}}</td><td>{{.Connect.P99}}</td><td>{{.Connect.Max}}</td></tr>
<tr><td>end to end</td><td>{{.EndToEnd.Count}}</td><td>{{.EndToEnd.P50}}</td><td>{{.EndToEnd.P95}}</td><td>{{.EndToEnd.P99}}</td><td>{{.EndToEnd.Max}}</td></tr></table>
<table><tr><th>rates</th><th>value</th></tr>
<tr><td>connects/s over the ramp</td><td>{{num .ConnectRate.Ramp}}</td></tr>
<tr><td>connects in the busiest second</td><td>{{.ConnectRate.PeakSecond}}</td></tr>
<tr><td>messages/s sent (acknowledged)</td><td>{{num .Messages.SentPerSecond}}</td></tr>
<tr><td>messages/s received</td><td>{{num .Messages.ReceivedPerSecond}}</td></tr>
<tr><td>published / acknowledged / received</td><td>{{.Messages.Published}} / {{.Messages.Acknowledged}} / {{.Messages.Received}}</td></tr></table>

<h2>Memory</h2>
<table><tr><th>process</th><th>baseline</th><th>all connected</th><th>per device</th></tr>
<tr><td>simulator</td><td>{{mib .Memory.SimBaseline}}</td><td>{{mib .Memory.SimConnected}}</td><td>{{kib .Memory.SimPerDevice}}</td></tr>
<tr><td>broker ({{or .Memory.BrokerSource "unknown"}})</td><td>{{mib .Memory.BrokerBaseline}}</td><td>{{mib .Memory.BrokerConnected}}</td><td>{{kib .Memory.BrokerPerDevice}}</td></tr></table>
{{with .Memory.Sim}}<table><tr><th>simulator (Go runtime, after a collection)</th><th>baseline</th><th>all connected</th><th>per device</th></tr>
<tr><td>live heap</td><td>{{mib .HeapBaseline}}</td><td>{{mib .HeapConnected}}</td><td>{{kib .HeapPerDevice}}</td></tr>
<tr><td>goroutine stacks</td><td>{{mib .StackBaseline}}</td><td>{{mib .StackConnected}}</td><td>{{kib .StackPerDevice}}</td></tr>
<tr><td>goroutines</td><td>{{.GoroutinesBaseline}}</td><td>{{.GoroutinesConnected}}</td><td>{{printf "%.1f" .GoroutinesPerDevice}}</td></tr></table>
<p>Simulator CPU over the run {{printf "%.1f" .CPUSeconds}} s, of it the collector {{printf "%.1f" .GCCPUSeconds}} s ({{.GCCycles}} collections); peak resident memory {{mib .MaxRSS}}.</p>{{end}}
{{if .Procs}}<table><tr><th>simulator process</th><th>pid</th><th>devices</th><th>connected</th><th>baseline</th><th>all connected</th><th>max RSS</th><th>per device</th></tr>
{{range .Procs}}<tr><td>{{.Index}}</td><td>{{.PID}}</td><td>{{.Devices}}</td><td>{{.Connected}}</td><td>{{mib .RSSBaseline}}</td><td>{{mib .RSSConnected}}</td><td>{{mib .MaxRSS}}</td><td>{{kib .PerDevice}}</td></tr>
{{end}}</table>{{end}}

{{with .Rotation}}<h2>Rotation under load</h2>
<p>{{.Rotated}} of {{.Requested}} rotated ({{.Failed}} failed), {{.Reconnected}} back with the new certificate; Rotate call p50 {{.Latency.P50}} ms, p99 {{.Latency.P99}} ms.</p>{{end}}
{{with .Storm}}<h2>Reconnect storm</h2>
<p>{{.Dropped}} sessions dropped at once; {{.Reconnected}} back after {{printf "%.1f" .Seconds}} s, {{.Attempts}} attempts of which {{.FailedAttempt}} failed.</p>{{end}}
{{with .Revocation}}<h2>Revocation</h2>
<p>{{.Revoked}} devices revoked mid-run, {{.UpAtRevocation}} of them in a session then; {{.Dropped}} sessions dropped, {{.StillUp}} still up at the end; delay p50 {{.Delay.P50}} ms, p99 {{.Delay.P99}} ms, max {{.Delay.Max}} ms.
{{.ReconnectedAfter}} sessions after revocation{{if .ReconnectedDuring}} ({{.ReconnectedDuring}} more began while the command ran){{end}}; {{.AgentStopped}} agents stopped with "revoked"; {{.ProbesRefused}} of {{.Probes}} direct probes refused, {{.ProbesAdmitted}} let in.</p>{{end}}

` + clusterTemplate + `
<h2>Errors by kind</h2>
{{if $.ErrorKinds}}<table><tr><th>kind</th><th>count</th></tr>
{{range $.ErrorKinds}}<tr><td>{{.}}</td><td>{{index $.R.Errors .}}</td></tr>{{end}}</table>{{else}}<p>none</p>{{end}}

<h2>Charts</h2>
{{range $.Charts}}{{.}}{{end}}
{{end}}

{{with .Bench}}
<h2>Benchmark</h2>
<p>{{.Settings.Rounds}} alternating rounds of {{.Settings.RoundSeconds}} s per measurement; {{.Settings.ConnectClients}} connect loops; {{.Settings.MessageClients}} clients × window {{.Settings.Window}}, {{.Settings.PayloadBytes}} B; {{.Settings.IdleConns}} idle connections.</p>
<table><tr><th>metric</th>{{range .Contenders}}<th>{{.Name}}</th>{{end}}</tr>
{{$b := .}}{{range .Rows}}{{$row := .}}<tr><td>{{.Metric}} ({{.Unit}})</td>{{range $b.Contenders}}<td>{{value $row .Name}}</td>{{end}}</tr>
{{end}}<tr><td>key exchange</td>{{range .Contenders}}<td>{{.KeyExchange}}</td>{{end}}</tr></table>
<table><tr><th>goal</th><th>value</th><th>want</th><th>result</th></tr>
{{range .Goals}}<tr><td>{{.Name}}</td><td>{{num .Value}}</td><td>{{.Want}}</td><td class="{{if .Met}}ok{{else}}fail{{end}}">{{if .Met}}met{{else}}MISSED{{end}}</td></tr>{{end}}</table>
<table><tr><th>contender</th><th>description</th><th>settings</th></tr>
{{range .Contenders}}<tr><td>{{.Name}}</td><td>{{.Description}}</td><td>{{.Settings}}</td></tr>{{end}}</table>
{{range $.BenchChart}}{{.}}{{end}}
{{end}}
{{end}}
</body></html>
`
