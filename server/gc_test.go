package server

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
)

func TestGCConfig(t *testing.T) {
	if c := DefaultConfig(); c.GCPercent != DefaultGCPercent || c.MemoryLimit != 0 {
		t.Fatalf("defaults gc_percent %d, memory_limit %s; want %d and none", c.GCPercent, c.MemoryLimit, DefaultGCPercent)
	}

	// From the file.
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"gc_percent": 200, "memory_limit": "1GiB"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if c.GCPercent != 200 || c.MemoryLimit != 1<<30 {
		t.Fatalf("from file: gc_percent %d, memory_limit %s", c.GCPercent, c.MemoryLimit)
	}
	// The environment layer over the file is the command's (cmd/fleetgate).
	c.GCPercent, c.MemoryLimit = -1, 768<<20
	if err := c.Validate(); err != nil {
		t.Fatalf("collector off with a limit refused: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"memory_limit": 33554432}`), &c); err != nil || c.MemoryLimit != 32<<20 {
		t.Fatalf("memory_limit as a number: %s, %v", c.MemoryLimit, err)
	}
	if b, err := json.Marshal(ByteSize(2 << 30)); err != nil || string(b) != `"2GiB"` {
		t.Fatalf("marshal 2GiB: %s, %v", b, err)
	}

	bad := []struct {
		name   string
		adjust func(*Config)
		want   string
	}{
		{"off without a limit", func(c *Config) { c.GCPercent = -1 }, "needs a memory_limit"},
		{"zero percent", func(c *Config) { c.GCPercent = 0 }, "gc_percent 0"},
		{"below -1", func(c *Config) { c.GCPercent = -5 }, "gc_percent -5"},
		{"tiny limit", func(c *Config) { c.MemoryLimit = 1 << 20 }, "memory_limit 1MiB"},
		{"negative limit", func(c *Config) { c.MemoryLimit = -1 }, "memory_limit"},
	}
	for _, tc := range bad {
		c := DefaultConfig()
		tc.adjust(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if err := json.Unmarshal([]byte(`{"memory_limit": "much"}`), &c); err == nil {
		t.Error("memory_limit \"much\" accepted from JSON")
	}
}

// readGC reads the collector's settings as the runtime reports them.
func readGC() (percent, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func TestApplyGC(t *testing.T) {
	// The process's own collector, restored afterwards.
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	log := slog.New(slog.DiscardHandler)
	rt := processGC(GCEnv{})

	applyGC(DefaultConfig(), rt, log)
	p, l := readGC()
	if p != DefaultGCPercent {
		t.Fatalf("gc percent %d after the defaults, want %d", p, DefaultGCPercent)
	}
	if l != uint64(prevLimit) {
		t.Fatalf("memory limit changed to %d without one configured", l)
	}

	c := DefaultConfig()
	c.GCPercent, c.MemoryLimit = 250, 512<<20
	applyGC(c, rt, log)
	if p, l := readGC(); p != 250 || l != 512<<20 {
		t.Fatalf("configured 250%% and 512MiB, runtime has %d%% and %d", p, l)
	}

	// GOGC and GOMEMLIMIT set: the runtime applied them at start, and
	// neither is touched.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(prevLimit)
	rt.env = GCEnv{GOGC: "100", GOMEMLIMIT: "1GiB"}
	var logged strings.Builder
	applyGC(c, rt, slog.New(slog.NewTextHandler(&logged, nil)))
	if p, l := readGC(); p != 100 || l != uint64(prevLimit) {
		t.Fatalf("with GOGC and GOMEMLIMIT set the runtime has %d%% and limit %d; want them untouched", p, l)
	}
	for _, want := range []string{"gc_percent=100 gc_percent_from=GOGC", "memory_limit=1GiB memory_limit_from=GOMEMLIMIT"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log %q lacks %q", logged.String(), want)
		}
	}
}
