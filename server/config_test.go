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
		{"error/public url relative", func(c *Config) { c.PublicURL = "pki.example.com" }, "public_url"},
		{"error/public url query", func(c *Config) { c.PublicURL = "http://pki.example.com/?x=1" }, "public_url"},
		{"error/wss on mqtt's address", func(c *Config) { c.WSSAddr = c.MQTTAddr }, "wss_addr"},
		{"error/wss without a broker", func(c *Config) {
			c.Role, c.Registry, c.MQTTAddr, c.WSSAddr = RoleAPI, "etcd://127.0.0.1:2379", "", ":8884"
		}, "wss_addr"},
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

// TestRevocationListen: the relying-party listener runs when either key is
// set, on the default address for a bare public_url, and never in a
// broker-only process.
func TestRevocationListen(t *testing.T) {
	for _, tc := range []struct {
		name, url, addr, role, want string
	}{
		{"ok/off by default", "", "", RoleAll, ""},
		{"ok/default address", "http://pki.example.com", "", RoleAll, DefaultRevocationAddr},
		{"ok/address given", "http://pki.example.com", "127.0.0.1:1", RoleAPI, "127.0.0.1:1"},
		{"ok/address without url", "", "127.0.0.1:1", RoleAll, "127.0.0.1:1"},
		{"ok/broker runs none", "http://pki.example.com", "127.0.0.1:1", RoleBroker, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.PublicURL, c.RevocationAddr, c.Role = tc.url, tc.addr, tc.role
			if got := c.RevocationListen(); got != tc.want {
				t.Fatalf("RevocationListen() = %q, want %q", got, tc.want)
			}
		})
	}
}
