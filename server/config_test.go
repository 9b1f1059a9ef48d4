package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
}
