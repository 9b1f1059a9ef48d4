package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/server"
)

// fileThenEnv layers a config file holding configJSON and then env over
// the defaults, as serve does before its flags.
func fileThenEnv(t *testing.T, configJSON string, env map[string]string) server.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(configJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	c := server.DefaultConfig()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := loadEnv(&c, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigPrecedence(t *testing.T) {
	c := fileThenEnv(t, `{"mqtt_addr": ":1883", "handshake_timeout": "3s", "log_format": "json"}`,
		map[string]string{"FLEETGATE_MQTT_ADDR": ":2883", "FLEETGATE_MAX_PENDING": "7"})
	if c.MQTTAddr != ":2883" || c.HandshakeTimeout.Duration != 3*time.Second || c.LogFormat != "json" || c.MaxPending != 7 {
		t.Fatalf("merged config %+v", c)
	}
	if c.ReloadInterval.Duration != 2*time.Second {
		t.Fatalf("default reload_interval %s, want 2s", c.ReloadInterval)
	}
	if c.APIAddr != ":8443" {
		t.Fatalf("default lost: api_addr %q", c.APIAddr)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.ReloadInterval.Duration = 0 // SIGHUP only
	if err := c.Validate(); err != nil {
		t.Fatalf("reload_interval 0 refused: %v", err)
	}
}

// TestGCEnv: FLEETGATE_GC_PERCENT and FLEETGATE_MEMORY_LIMIT stand over the
// file's gc_percent and memory_limit.
func TestGCEnv(t *testing.T) {
	c := fileThenEnv(t, `{"gc_percent": 200, "memory_limit": "1GiB"}`,
		map[string]string{"FLEETGATE_GC_PERCENT": "-1", "FLEETGATE_MEMORY_LIMIT": "768MiB"})
	if c.GCPercent != -1 || c.MemoryLimit != 768<<20 {
		t.Fatalf("from env: gc_percent %d, memory_limit %s", c.GCPercent, c.MemoryLimit)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("collector off with a limit refused: %v", err)
	}
}

// TestEnvErrors: a variable that does not parse is refused by name.
func TestEnvErrors(t *testing.T) {
	for k, v := range map[string]string{
		"FLEETGATE_HANDSHAKE_TIMEOUT": "soon",
		"FLEETGATE_GC_PERCENT":        "lots",
		"FLEETGATE_MEMORY_LIMIT":      "2GB",
		"FLEETGATE_MAX_PACKET_SIZE":   "-1",
	} {
		c := server.DefaultConfig()
		if err := loadEnv(&c, func(key string) string {
			if key == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: loadEnv = %v, want an error naming it", k, v, err)
		}
	}
}

// TestBundleDirConfig: bundle_dir comes from the file or
// FLEETGATE_BUNDLE_DIR, and only a broker may have one.
// TestWSSAddrConfig: the WSS listener is off by default; wss_addr in the
// file, FLEETGATE_WSS_ADDR over it, and --wss-addr over both.
func TestWSSAddrConfig(t *testing.T) {
	if c := server.DefaultConfig(); c.WSSAddr != "" {
		t.Fatalf("default wss_addr %q, want off", c.WSSAddr)
	}
	c := fileThenEnv(t, `{"wss_addr": ":1884"}`, nil)
	if c.WSSAddr != ":1884" {
		t.Fatalf("from the file: wss_addr %q", c.WSSAddr)
	}
	c = fileThenEnv(t, `{"wss_addr": ":1884"}`, map[string]string{"FLEETGATE_WSS_ADDR": ":2884"})
	if c.WSSAddr != ":2884" {
		t.Fatalf("from the environment: wss_addr %q", c.WSSAddr)
	}
	cmd := serveCommand()
	if err := cmd.Flags().Parse([]string{"--wss-addr", ":3884"}); err != nil {
		t.Fatal(err)
	}
	var flags server.Config
	flags.WSSAddr, _ = cmd.Flags().GetString("wss-addr")
	applyFlags(cmd, &c, flags)
	if c.WSSAddr != ":3884" {
		t.Fatalf("from the flag: wss_addr %q", c.WSSAddr)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBundleDirConfig(t *testing.T) {
	etcd := `"registry": "etcd://127.0.0.1:2379", "role": "broker"`
	c := fileThenEnv(t, `{`+etcd+`, "bundle_dir": "/from/file"}`, map[string]string{"FLEETGATE_BUNDLE_DIR": "/from/env"})
	if c.BundleDir != "/from/env" {
		t.Fatalf("bundle_dir %q, want the environment's", c.BundleDir)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("broker with a bundle refused: %v", err)
	}
	c.Role = server.RoleAll
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "bundle_dir is for role broker only") {
		t.Fatalf("role all with a bundle: Validate = %v, want a refusal naming bundle_dir", err)
	}
}
