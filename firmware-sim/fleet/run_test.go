package fleet

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
)

// smallRun is a run against a server the simulator starts from the real
// binary, small enough for the test suite.
func smallRun(t *testing.T, mutate func(*Config)) *report.Report {
	t.Helper()
	var progress bytes.Buffer
	cfg := Config{
		Target:          Target{Start: true, ServerBin: bins.Fleetgate(t)},
		Devices:         50,
		TokenBatch:      20, // three CreateTokens calls
		ConnectRate:     200,
		Ramp:            100 * time.Millisecond,
		PublishInterval: 500 * time.Millisecond,
		Duration:        8 * time.Second,
		Settle:          500 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress:        &progress,
		ProgressEvery:   time.Second,
	}
	mutate(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil && !errors.Is(err, ErrChecks) {
		t.Fatalf("Run: %v", err)
	}
	if rep == nil {
		t.Fatal("no report")
	}
	for _, c := range rep.Failed() {
		t.Errorf("check %q failed: %s", c.Name, c.Detail)
	}
	if progress.Len() == 0 {
		t.Error("no progress lines were written")
	}
	if t.Failed() {
		t.Logf("errors by kind: %v", rep.Errors)
	}
	return rep
}

// TestRun drives 50 devices through token enrollment, publishing, and the
// scenario's events against the real server, and checks the report.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		check  func(*testing.T, *report.Report)
	}{
		{
			name: "ok/qos1 rotation storm revocation",
			mutate: func(c *Config) {
				c.QoS, c.Rotate, c.Storm, c.RevokeShare = 1, 3, true, 0.1
			},
			check: func(t *testing.T, r *report.Report) {
				if r.Rotation == nil || r.Rotation.Rotated != 3 || r.Rotation.Reconnected != 3 {
					t.Errorf("rotation %+v: want 3 rotated and back", r.Rotation)
				}
				if r.Storm == nil || r.Storm.Expected < 45 || r.Storm.Reconnected != r.Storm.Expected {
					t.Errorf("storm %+v: want every device back", r.Storm)
				}
				rv := r.Revocation
				if rv == nil || rv.Revoked != 5 || rv.Dropped != 5 || rv.ReconnectedAfter != 0 || rv.AgentStopped != 5 {
					t.Fatalf("revocation %+v: want 5 revoked, dropped and stopped, none back", rv)
				}
				if rv.Probes != 5 || rv.ProbesRefused != 5 {
					t.Errorf("probes %d, refused %d: want 5 and 5", rv.Probes, rv.ProbesRefused)
				}
				// "At once": the broker drops a revoked session within
				// seconds even on a loaded machine, not at the next
				// reconnect or keepalive (60s).
				if rv.Delay.Count != 5 || rv.Delay.Max > 10000 {
					t.Errorf("revocation delay %+v", rv.Delay)
				}
				if n := r.Errors[kindStormDrop]; n < 45 {
					t.Errorf("storm drops counted %d, want >= 45", n)
				}
			},
		},
		{
			name:   "ok/qos0",
			mutate: func(c *Config) { c.QoS, c.Devices, c.Duration = 0, 20, 3*time.Second },
			check: func(t *testing.T, r *report.Report) {
				if r.Rotation != nil || r.Storm != nil || r.Revocation != nil {
					t.Error("events ran that were not asked for")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := smallRun(t, tc.mutate)
			checkReport(t, r)
			tc.check(t, r)
		})
	}
}

// checkReport checks what every report must hold.
func checkReport(t *testing.T, r *report.Report) {
	t.Helper()
	n := r.Scenario.Devices
	if r.Devices.Requested != n || r.Devices.Enrolled != n || r.Devices.Connected != n || r.Devices.Failed != 0 {
		t.Errorf("devices %+v, want all %d enrolled and connected", r.Devices, n)
	}
	if r.Devices.ConnectedPeak != n {
		t.Errorf("peak sessions %d, want %d", r.Devices.ConnectedPeak, n)
	}
	for name, s := range map[string]report.Summary{"tls": r.TLSHandshake, "connect": r.Connect, "enroll": r.Enrollment, "e2e": r.EndToEnd} {
		if s.Count == 0 || s.P50 <= 0 || s.P50 > s.P95 || s.P95 > s.P99 || s.P99 > s.Max {
			t.Errorf("%s summary %+v is not an ordered distribution", name, s)
		}
	}
	if r.TLSHandshake.Count < int64(n) || r.Connect.Count < int64(n) {
		t.Errorf("handshakes %d, connects %d: want at least one per device", r.TLSHandshake.Count, r.Connect.Count)
	}
	if r.Messages.Published == 0 || r.Messages.Received == 0 || r.Messages.ReceivedPerSecond <= 0 {
		t.Errorf("messages %+v", r.Messages)
	}
	if r.Memory.BrokerSource != "proc" || r.Memory.BrokerConnected == 0 || r.Memory.SimConnected == 0 {
		t.Errorf("memory %+v: want readings from /proc", r.Memory)
	}
	var connects int64
	for _, c := range r.Series["connects"] {
		connects += c
	}
	if connects < int64(n) {
		t.Errorf("connects series sums to %d, want >= %d", connects, n)
	}
	if len(r.Histograms["connect"]) == 0 || len(r.Timeline) == 0 || len(r.Host.SourceAddrs) < 2 {
		t.Errorf("histograms %v, timeline %v, sources %v", r.Histograms, r.Timeline, r.Host.SourceAddrs)
	}
	if !r.Server.StartedBySim || r.Server.PID == 0 {
		t.Errorf("server %+v", r.Server)
	}
	for kind := range r.Errors {
		if !expectedKind(kind) {
			t.Errorf("unexpected error kind %q (%d)", kind, r.Errors[kind])
		}
	}
}

// expectedKind reports whether an error kind is caused by the scenario.
func expectedKind(kind string) bool {
	return bytes.Contains([]byte(kind), []byte("expected"))
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
