package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/server"
)

// targetChildEnv makes the test binary act as `firmware-sim bench-target`
// when bench starts it as a contender.
const targetChildEnv = "FIRMWARE_SIM_BENCH_TARGET_CHILD"

// TestMain builds nothing; it lets the test binary act as the bench target
// child that Run starts.
func TestMain(m *testing.M) {
	if os.Getenv(targetChildEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := TargetMain(ctx, os.Args[1:], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the whole bench at a tiny scale: every contender in
// its own process, every row measured, every goal computed. Whether the
// goals are met depends on the machine; `make bench` is where they count.
func TestRunSmall(t *testing.T) {
	mosquitto := "-"
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		mosquitto = "/usr/sbin/mosquitto"
	}
	var log strings.Builder
	cfg := Config{
		ServerBin: bins.Fleetgate(t), Mosquitto: mosquitto,
		Rounds: 1, Round: 300 * time.Millisecond, ConnectClients: 2, MessageClients: 2, Window: 4,
		Idle: 40, Settle: 100 * time.Millisecond, IdleHold: 2 * time.Second, ProfileDir: t.TempDir(), Log: &log,
		TargetCommand: []string{os.Args[0]}, TargetEnv: []string{targetChildEnv + "=1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	if b.Settings.GOGC != fleetgateGCPercent || b.Settings.IdleHoldSeconds != 2 {
		t.Errorf("settings %+v: want every Go server at GOGC %s, a 2 s hold", b.Settings, fleetgateGCPercent)
	}
	for _, name := range []string{ProfileIdleStart, ProfileIdleEnd, ProfileIdleCPU} {
		// A pprof profile is gzipped protobuf: it starts with gzip's magic.
		if p, err := os.ReadFile(filepath.Join(cfg.ProfileDir, name)); err != nil || len(p) < 2 || p[0] != 0x1f || p[1] != 0x8b {
			t.Errorf("profile %s: %d bytes, %v; want a gzipped profile", name, len(p), err)
		}
	}
	if row := b.Row(MetricIdleGC); row == nil || len(row.Values) != 1 || row.Values[NameFleetgate] <= 0 {
		t.Errorf("idle allocation row %+v, want fleetgate's alone (its metrics scrape allocates, so > 0)", row)
	}
	names := []string{NameFleetgate, NameBare, NameMochi}
	if mosquitto != "-" {
		names = append(names, NameMosquitto)
	}
	if len(b.Contenders) != len(names) {
		t.Fatalf("contenders %+v, want %v", b.Contenders, names)
	}
	for _, c := range b.Contenders {
		want := "X25519MLKEM768" // Go peers
		if c.Name == NameMosquitto {
			want = "X25519" // OpenSSL 3.0
		}
		if c.KeyExchange != want {
			t.Errorf("%s: key exchange %q, want %q", c.Name, c.KeyExchange, want)
		}
	}
	for _, metric := range []string{MetricConnects, MetricConnP99, MetricQoS0, MetricQoS1, MetricIdle, MetricIdleCPU} {
		row := b.Row(metric)
		if row == nil {
			t.Fatalf("no row %s", metric)
		}
		for _, n := range names {
			v, ok := row.Values[n]
			// 40 idle connections may cost less than the collector frees
			// meanwhile: the memory row is only meaningful at scale.
			if !ok || v < 0 || (v == 0 && metric != MetricIdle && metric != MetricIdleCPU) {
				t.Errorf("%s of %s = %v (present %v), want > 0", metric, n, v, ok)
			}
		}
	}
	wantGoals := 3 + 3 // connects vs bare, QoS 0 and 1; idle RSS ratio, garbage and CPU
	if mosquitto != "-" {
		wantGoals++
	}
	if len(b.Goals) != wantGoals {
		t.Errorf("goals %+v, want %d", b.Goals, wantGoals)
	}
	for _, g := range b.Goals {
		if (g.Value <= 0 && g.Metric != MetricIdle && g.Metric != MetricIdleCPU) || g.Want == "" {
			t.Errorf("goal %+v not computed", g)
		}
	}
	// fleetgate's own view of the idle connections: two goroutines each
	// (mochi's reader and writer) and the stacks they take.
	if g := b.Runtime["go_goroutines"]; g < 1.5 || g > 2.5 {
		t.Errorf("fleetgate goroutines per idle connection %.2f, want about 2 (runtime %v)", g, b.Runtime)
	}
	if s := b.Runtime["go_memstats_stack_inuse_bytes"]; s < 4<<10 {
		t.Errorf("fleetgate stack per idle connection %.0f bytes, want at least two minimal stacks", s)
	}
	var table strings.Builder
	PrintTable(&table, b)
	for _, want := range []string{"connects_per_second", "key exchange", "goal (fleetgate)", "connects/s vs bare TLS"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var page strings.Builder
	if err := report.WriteHTML(&page, &report.Report{Schema: report.SchemaVersion, Bench: b}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), `<rect class="bar"`); n < 5*len(names) {
		t.Errorf("bench page has %d bars, want %d", n, 5*len(names))
	}
}

// TestRunNarrow runs fleetgate against the bare TLS listener alone, for
// the connect rows only: the other servers are not started, the other rows
// and goals are absent.
func TestRunNarrow(t *testing.T) {
	var log strings.Builder
	cfg := Config{
		ServerBin: bins.Fleetgate(t), Contenders: []string{NameBare}, Rows: []string{RowConnects},
		Rounds: 2, Round: 200 * time.Millisecond, ConnectClients: 2, MessageClients: 1, Idle: 3, Log: &log,
		TargetCommand: []string{os.Args[0]}, TargetEnv: []string{targetChildEnv + "=1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	var names []string
	for _, c := range b.Contenders {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != NameFleetgate+","+NameBare {
		t.Errorf("contenders %v, want fleetgate and bare-tls", names)
	}
	var metrics []string
	for _, r := range b.Rows {
		metrics = append(metrics, r.Metric)
		if len(r.Rounds[NameFleetgate]) != 2 && r.Metric == MetricConnects {
			t.Errorf("%s rounds %v, want 2 per contender", r.Metric, r.Rounds)
		}
	}
	if strings.Join(metrics, ",") != MetricConnects+","+MetricConnP99 {
		t.Errorf("rows %v, want the connect rows only", metrics)
	}
	if len(b.Goals) != 1 || b.Goals[0].Versus != NameBare {
		t.Errorf("goals %+v, want connects vs bare TLS alone", b.Goals)
	}
	if b.Runtime != nil {
		t.Errorf("runtime breakdown %v without the memory row", b.Runtime)
	}
	if strings.Contains(log.String(), "memory:") {
		t.Errorf("idle connections opened without the memory row:\n%s", log.String())
	}
	var page strings.Builder
	if err := report.WriteHTML(&page, &report.Report{Schema: report.SchemaVersion, Bench: b}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), `<rect class="bar"`); n != 2*2 {
		t.Errorf("bench page has %d bars, want 4 (two rows, two contenders)", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok/defaults", Config{}, true},
		{"error/window", Config{Window: 20000}, false},
		{"error/idle below the clients", Config{Idle: 3}, false},
		{"error/round too short", Config{Round: time.Millisecond}, false},
		{"error/idle hold too short", Config{IdleHold: time.Millisecond}, false},
		{"ok/contenders and rows", Config{Contenders: []string{NameFleetgate, NameMochi}, Rows: []string{RowMemory}}, true},
		{"error/unknown contender", Config{Contenders: []string{"emqx"}}, false},
		{"error/unknown row", Config{Rows: []string{"latency"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestGOGCIsFleetgates: the GOGC every Go contender gets by default is
// the one fleetgate serves with.
func TestGOGCIsFleetgates(t *testing.T) {
	if want := strconv.Itoa(server.DefaultGCPercent); fleetgateGCPercent != want || (Config{}).withDefaults().GOGC != want {
		t.Errorf("bench GOGC %s, want server.DefaultGCPercent %s", fleetgateGCPercent, want)
	}
}

func TestGoalsMedianOfRounds(t *testing.T) {
	b := &report.Bench{Rows: []report.BenchRow{
		{Metric: MetricConnects, Values: map[string]float64{NameFleetgate: 700, NameBare: 1000, NameMosquitto: 400},
			// Round 3 was disturbed for fleetgate alone: the median ignores it.
			Rounds: map[string][]float64{NameFleetgate: {950, 920, 300}, NameBare: {1000, 1000, 1000}, NameMosquitto: {400, 400, 400}}},
		{Metric: MetricQoS0, Values: map[string]float64{NameFleetgate: 90, NameMochi: 100}},
		{Metric: MetricQoS1, Values: map[string]float64{NameFleetgate: 80, NameMochi: 100}},
		{Metric: MetricIdle, Values: map[string]float64{NameFleetgate: 60 * 1024, NameBare: 50 * 1024}},
		{Metric: MetricIdleGC, Values: map[string]float64{NameFleetgate: 12000}},
		{Metric: MetricIdleCPU, Values: map[string]float64{NameFleetgate: 0.3, NameBare: 0.1}},
	}}
	got := map[string]report.Goal{}
	for _, g := range goals(b) {
		got[g.Name] = g
	}
	for _, tc := range []struct {
		name  string
		value float64
		met   bool
	}{
		{"connects/s vs bare TLS", 0.92, true},
		{"connects/s vs Mosquitto", 2.3, true},
		{"QoS 0 messages/s vs plain mochi", 0.90, true},
		{"QoS 1 messages/s vs plain mochi", 0.80, false},
		{"idle RSS per device vs bare TLS", 1.2, true},
		{"idle garbage, 10,000 devices", 12000, false},
		{"idle CPU, 10,000 devices", 0.3, true},
	} {
		g, ok := got[tc.name]
		if !ok {
			t.Errorf("no goal %q", tc.name)
			continue
		}
		if d := g.Value - tc.value; d > 0.001 || d < -0.001 || g.Met != tc.met {
			t.Errorf("%s: value %.3f met %v, want %.3f met %v", tc.name, g.Value, g.Met, tc.value, tc.met)
		}
	}
}
