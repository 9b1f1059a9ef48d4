package coord

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

const simPkg = "github.com/fleetgate/fleetgate/firmware-sim/cmd/firmware-sim"

// TestRunTwoProcesses splits 11 devices over two real simulator
// processes against a real server and checks the merged report counts
// every device once.
func TestRunTwoProcesses(t *testing.T) {
	var progress logbuf.Buffer
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r, err := Run(ctx, Options{
		Procs: 2, Binary: bins.Build(t, simPkg),
		Args:    []string{"--duration=3s", "--publish-interval=300ms", "--ramp=100ms", "--settle=200ms", "--revoke=0.2"},
		Devices: 11, MaxInflight: 32, ConnectRate: 200,
		Target: fleet.Target{Start: true, ServerBin: bins.Fleetgate(t)},
		Out:    out, Progress: &progress, ProgressEvery: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.Devices.Requested != 11 || r.Devices.Enrolled != 11 || r.Devices.Connected != 11 || r.Scenario.Devices != 11 {
		t.Errorf("devices %+v, scenario %d: want 11 requested, enrolled and connected", r.Devices, r.Scenario.Devices)
	}
	if len(r.Procs) != 2 || r.Procs[0].Devices != 6 || r.Procs[1].Devices != 5 {
		t.Fatalf("procs %+v: want 6 and 5 devices", r.Procs)
	}
	for _, p := range r.Procs {
		if p.PID == 0 || p.MaxRSS == 0 || p.RSSConnected == 0 || p.Connected != p.Devices {
			t.Errorf("process %+v: want its pid, memory and every device connected", p)
		}
	}
	if r.Connect.Count < 11 || r.TLSHandshake.Count < 11 || r.EndToEnd.Count == 0 || r.Messages.Received == 0 {
		t.Errorf("connect %+v, handshake %+v, end to end %+v: want every device's connect and messages", r.Connect, r.TLSHandshake, r.EndToEnd)
	}
	var histCount int64
	for _, b := range r.Histograms["connect"] {
		histCount += b.Count
	}
	if histCount != r.Connect.Count {
		t.Errorf("connect histogram holds %d values, summary %d", histCount, r.Connect.Count)
	}
	if rv := r.Revocation; rv == nil || rv.Revoked != 2 || rv.Dropped != 2 {
		t.Errorf("revocation %+v: want one device revoked in each process", rv)
	}
	addrs := slices.Clone(r.Host.SourceAddrs)
	slices.Sort(addrs)
	if len(addrs) < 4 || len(slices.Compact(addrs)) != len(r.Host.SourceAddrs) {
		t.Errorf("source addresses %v: want each process its own", r.Host.SourceAddrs)
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
	if p := progress.String(); !strings.Contains(p, "enrolled=11/11") {
		t.Errorf("progress never showed every device enrolled:\n%s", p)
	}
	var page bytes.Buffer
	if err := report.WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"simulator process", "<svg", "End-to-end message latency"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
}

// TestRunChildFails: a child that cannot run fails the run, named, with
// its last lines.
func TestRunChildFails(t *testing.T) {
	_, err := Run(context.Background(), Options{
		Procs: 2, Binary: bins.Build(t, simPkg), Args: []string{"--qos=7"}, Devices: 4,
		Target: fleet.Target{API: "https://127.0.0.1:1", Broker: "127.0.0.1:1", CAFile: "ca", AdminCert: "c", AdminKey: "k"},
		Out:    t.TempDir(),
	})
	if !errors.Is(err, ErrChild) {
		t.Fatalf("Run: %v, want ErrChild", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "process ") || !strings.Contains(msg, "qos 7") {
		t.Errorf("error %q: want the process named and its last lines", msg)
	}
}

func TestParseStatus(t *testing.T) {
	line := "t=   5s enrolled=40/50 sessions=38 peak=39 connects/s=12 sent/s=100 received/s=99 errors=2"
	st, ok := parseStatus(line)
	want := status{enrolled: 40, devices: 50, sessions: 38, peak: 39, connects: 12, sent: 100, received: 99, errs: 2}
	if !ok || st != want {
		t.Errorf("parseStatus = %+v, %v; want %+v", st, ok, want)
	}
	for _, bad := range []string{"report: x.json", "t=1s enrolled=1/2", "t=1s enrolled=1/2 sessions=x peak=1 connects/s=1 sent/s=1 received/s=1 errors=0"} {
		if _, ok := parseStatus(bad); ok {
			t.Errorf("parseStatus(%q) accepted", bad)
		}
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct{ n, procs, sum int }{{11, 2, 11}, {100000, 5, 100000}, {3, 5, 3}} {
		got := 0
		for i := range tc.procs {
			s := share(tc.n, tc.procs, i)
			if s < tc.n/tc.procs || s > tc.n/tc.procs+1 {
				t.Errorf("share(%d, %d, %d) = %d: uneven", tc.n, tc.procs, i, s)
			}
			got += s
		}
		if got != tc.sum {
			t.Errorf("shares of %d over %d add up to %d", tc.n, tc.procs, got)
		}
	}
}
