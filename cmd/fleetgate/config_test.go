package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"mqtt_addr": ":1883", "handshake_timeout": "3s", "log_format": "json"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FLEETGATE_MQTT_ADDR": ":2883", "FLEETGATE_MAX_PENDING": "7"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
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

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name   string
		adjust func(*Config)
		want   string
	}{
		{"error/zero timeout", func(c *Config) { c.HandshakeTimeout.Duration = 0 }, "handshake_timeout"},
		{"error/tiny packets", func(c *Config) { c.MaxPacketSize = 10 }, "max_packet_size"},
		{"error/no pending", func(c *Config) { c.MaxPending = 0 }, "max_pending"},
		{"error/lifetime", func(c *Config) { c.CertLifetime.Duration = time.Minute }, "cert_lifetime"},
		{"error/log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"error/log format", func(c *Config) { c.LogFormat = "xml" }, "log_format"},
		{"error/data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"error/negative reload interval", func(c *Config) { c.ReloadInterval.Duration = -time.Second }, "reload_interval"},
		{"error/reload interval too short", func(c *Config) { c.ReloadInterval.Duration = time.Millisecond }, "reload_interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.adjust(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"mqtt_adr": ":1"}`), 0o600)
	c := DefaultConfig()
	if err := c.LoadFile(bad); err == nil || !strings.Contains(err.Error(), "mqtt_adr") {
		t.Fatalf("a misspelt key was accepted: %v", err)
	}
	if err := c.LoadEnv(func(k string) string {
		if k == "FLEETGATE_HANDSHAKE_TIMEOUT" {
			return "soon"
		}
		return ""
	}); err == nil {
		t.Fatal("a bad duration in the environment was accepted")
	}
}
