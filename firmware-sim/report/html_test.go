package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleReport is a small report with every part filled.
func sampleReport() *Report {
	return &Report{
		Schema: SchemaVersion, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seconds: 42,
		Scenario: Scenario{Devices: 100, QoS: 1, PayloadBytes: 64, PublishInterval: 1},
		Devices:  Devices{Requested: 100, Enrolled: 100, Connected: 100, ConnectedPeak: 100},
		Connect:  Summary{Count: 100, P50: 1, P95: 2, P99: 3, Max: 4},
		Errors:   map[string]int64{"session lost: <script>": 2},
		Checks:   []Check{{Name: "every device enrolled and connected", OK: true}, {Name: "storm", OK: false, Detail: "1 left"}},
		Timeline: []Event{{Seconds: 1, Name: "ramp"}, {Seconds: 5, Name: "storm"}},
		Series:   map[string][]int64{"connects": {10, 50, 40}, "disconnects": {0, 0, 5}, "sent": {0, 20, 30}, "received": {0, 19, 31}},
		Histograms: map[string][]Bucket{
			"connect":    {{LE: 1, Count: 50}, {LE: 2, Count: 45}, {LE: -1, Count: 5}},
			"end_to_end": {{LE: 0.5, Count: 10}},
		},
		Storm: &Storm{Dropped: 100, Expected: 100, Reconnected: 99, Seconds: 3.5},
		Bench: &Bench{
			Contenders: []Contender{{Name: "bare"}, {Name: "fleetgate"}},
			Rows:       []BenchRow{{Metric: "connects_per_second", Unit: "1/s", Values: map[string]float64{"bare": 1000, "fleetgate": 930}}},
			Goals:      []Goal{{Name: "fleetgate/bare connects", Value: 0.93, Want: ">= 0.90", Met: true}},
		},
	}
}

func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<svg", `class="chart line-chart"`, `class="chart bar-chart"`, "Connects over time",
		"CONNECT to CONNACK latency (histogram)", "FAILED", "connects_per_second",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Two line charts with two series each, bars for two histograms and
	// one bench row.
	if n := len(regexp.MustCompile(`<path class="series"`).FindAllString(page, -1)); n != 4 {
		t.Errorf("%d series paths, want 4", n)
	}
	if n := len(regexp.MustCompile(`<rect class="bar"`).FindAllString(page, -1)); n != 3+1+2 {
		t.Errorf("%d bars, want 6", n)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("the page must be self-contained: no scripts, no external resources")
	}
	if !strings.Contains(page, "session lost: &lt;script&gt;") {
		t.Error("error kinds are not escaped")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := sampleReport()
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"schema"`, `"tls_handshake"`, `"p99_ms"`, `"connects_per_second"`, `"end_to_end"`, `"broker_bytes_per_device"`, `"le_ms"`} {
		if !strings.Contains(b.String(), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
	out, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Storm == nil || out.Storm.Reconnected != 99 || out.Connect.P99 != 3 || len(out.Failed()) != 1 {
		t.Errorf("round trip lost data: %+v", out)
	}
	if _, err := ReadJSON(strings.NewReader(`{"schema":"other/v9"}`)); err == nil {
		t.Error("error/other schema: want an error")
	}
}

// TestWriteHTMLCluster: a report with brokers and a bulk revocation shows
// each broker's memory, the revocation's times and two more charts (the
// memory per process and the drops after the command's return).
func TestWriteHTMLCluster(t *testing.T) {
	r := sampleReport()
	charts := func() int {
		var b bytes.Buffer
		if err := WriteHTML(&b, r); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), "<svg")
	}
	before := charts()
	r.Procs = []Proc{{Index: 0, Devices: 100, RSSConnected: 64 << 20}}
	r.Cluster = &Cluster{
		Brokers: []BrokerProc{{Addr: "127.0.0.1:8883", PID: 42, Devices: 100, RSSBaseline: 50 << 20, RSSConnected: 60 << 20, PerDevice: 104857.6}},
		Revocation: &BulkRevocation{Devices: 10, CommandSeconds: 1.25, OpenAtReturn: 3,
			AfterReturn: Summary{Count: 10, P50: 0, P99: 120, Max: 130}, AfterReturnMs: []float64{0, 0, 5, 120, 130}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"127.0.0.1:8883", "102.4 KiB", "10 devices named", "1.25 s", "3 sessions were still up", "max 130 ms"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := charts(); n != before+2 {
		t.Errorf("%d charts with the cluster section, %d without: want 2 more", n, before)
	}
}
