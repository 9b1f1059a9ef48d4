package report

import (
	"fmt"
	"html/template"
)

// Cluster is what a coordinator measured of a target served by several
// broker processes, around a bulk revocation it ran itself.
type Cluster struct {
	Brokers    []BrokerProc    `json:"brokers"`
	Revocation *BulkRevocation `json:"bulk_revocation,omitempty"`
}

// BrokerProc is one broker process: its resident memory before the
// simulators started and with its devices connected.
type BrokerProc struct {
	Addr         string  `json:"addr"`
	PID          int     `json:"pid"`
	Devices      int     `json:"devices"` // devices the simulators sent to it
	RSSBaseline  uint64  `json:"rss_baseline"`
	RSSConnected uint64  `json:"rss_connected"`
	PerDevice    float64 `json:"bytes_per_device"`
}

// BulkRevocation is one operator command revoking many connected devices.
type BulkRevocation struct {
	Devices        int     `json:"devices"`         // devices the command named (of a group: those that reached a session)
	CommandSeconds float64 `json:"command_seconds"` // start to return
	// OpenAtReturn counts the sessions still up when the command returned.
	OpenAtReturn int `json:"open_at_return"`
	// AfterReturn is from the command's return to each session's end
	// (0 for those gone before it); FromStart from the command's start.
	// A session ends when the device's kernel received the broker's
	// goodbye (TCP_INFO); NoticedAfterReturn is the same from when the
	// simulators noticed, later where they waited for the CPU.
	AfterReturn        Summary `json:"after_return"`
	FromStart          Summary `json:"from_start"`
	NoticedAfterReturn Summary `json:"noticed_after_return"`
	Error              string  `json:"error,omitempty"`
	// Procs is the simulator processes of the run; ProcsPublishing those
	// that had reached their publishing phase when the command ran (the
	// coordinator waits for all of them only so long).
	Procs           int `json:"procs,omitempty"`
	ProcsPublishing int `json:"procs_publishing,omitempty"`
	// AfterReturnMs are the values behind AfterReturn, for its chart.
	AfterReturnMs []float64 `json:"after_return_ms,omitempty"`
}

// clusterCharts draws each process's memory and the revocation drops.
func clusterCharts(r *Report) []template.HTML {
	c := r.Cluster
	if c == nil {
		return nil
	}
	var labels []string
	var mib []float64
	for i, b := range c.Brokers {
		labels, mib = append(labels, fmt.Sprintf("broker %d", i)), append(mib, float64(b.RSSConnected)/(1<<20))
	}
	for _, p := range r.Procs {
		labels, mib = append(labels, fmt.Sprintf("sim %d", p.Index)), append(mib, float64(p.RSSConnected)/(1<<20))
	}
	out := []template.HTML{barChart("Resident memory with every device connected", "MiB", labels, mib)}
	if rv := c.Revocation; rv != nil && len(rv.AfterReturnMs) > 0 {
		out = append(out, histogramChart("Bulk revocation: session end after the command returned (ms, histogram)", Histogram(rv.AfterReturnMs)))
	}
	return out
}

const clusterTemplate = `{{with .Cluster}}<h2>Brokers</h2>
<table><tr><th>broker</th><th>pid</th><th>devices</th><th>baseline</th><th>all connected</th><th>per device</th></tr>
{{range .Brokers}}<tr><td>{{.Addr}}</td><td>{{.PID}}</td><td>{{.Devices}}</td><td>{{mib .RSSBaseline}}</td><td>{{mib .RSSConnected}}</td><td>{{kib .PerDevice}}</td></tr>
{{end}}</table>
{{with .Revocation}}<h2>Bulk revocation (one command)</h2>
<p>{{.Devices}} devices named; the command took {{printf "%.2f" .CommandSeconds}} s; {{.OpenAtReturn}} sessions were still up at its return.
{{if lt .ProcsPublishing .Procs}}It ran after the bounded wait, with {{.ProcsPublishing}} of {{.Procs}} simulator processes publishing.{{end}}
Session end after the return: p50 {{.AfterReturn.P50}} ms, p99 {{.AfterReturn.P99}} ms, max {{.AfterReturn.Max}} ms ({{.AfterReturn.Count}} sessions);
after the start: p50 {{.FromStart.P50}} ms, p99 {{.FromStart.P99}} ms, max {{.FromStart.Max}} ms.
A session ends when the device's kernel received the broker's goodbye (TCP_INFO); the simulators noticed it after the return p50 {{.NoticedAfterReturn.P50}} ms, p99 {{.NoticedAfterReturn.P99}} ms, max {{.NoticedAfterReturn.Max}} ms.{{if .Error}} Error: {{.Error}}{{end}}</p>{{end}}{{end}}
`
