package agent

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

// validConfig is a configuration Validate accepts.
func validConfig() Config {
	c := DefaultConfig()
	c.DeviceID, c.ProvisioningURL, c.Broker = "dev-1", "https://fleet.example:8443", "fleet.example:8883"
	c.CAFile, c.KeySource = "/etc/device-agent/root.crt", KeySoftware
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // part of the error; "" for valid
	}{
		{"ok/software", func(*Config) {}, ""},
		{"ok/tpm-device", func(c *Config) { c.KeySource = KeyTPM }, ""},
		{"ok/tpm-swtpm", func(c *Config) { c.KeySource, c.TPMPath = KeyTPM, "tcp://127.0.0.1:2321" }, ""},
		{"ok/zero-values-take-defaults", func(c *Config) { c.BackoffMin, c.MaxQueued, c.RotateAt = Duration{}, 0, 0 }, ""},
		{"ok/root-pool-instead-of-file", func(c *Config) { c.CAFile, c.RootCAs = "", x509.NewCertPool() }, ""},
		{"ok/subscribe-filters", func(c *Config) { c.Subscribe = []string{"cmd/#", "cfg/+/set"} }, ""},
		{"error/device-id", func(c *Config) { c.DeviceID = "a/b" }, "device_id"},
		{"error/http-url", func(c *Config) { c.ProvisioningURL = "http://fleet.example" }, "provisioning_url"},
		{"error/broker-without-port", func(c *Config) { c.Broker = "fleet.example" }, "broker"},
		{"error/no-ca", func(c *Config) { c.CAFile = "" }, "ca_file"},
		{"error/key-source", func(c *Config) { c.KeySource = "hsm" }, "key_source"},
		{"error/tpm-path", func(c *Config) { c.KeySource, c.TPMPath = KeyTPM, "tpm0" }, "tpm_path"},
		{"error/status-wildcard", func(c *Config) { c.StatusTopic = "st/#" }, "status_topic"},
		{"error/subscribe-misplaced-hash", func(c *Config) { c.Subscribe = []string{"#/x"} }, "subscribe"},
		{"error/subscribe-dollar", func(c *Config) { c.Subscribe = []string{"$SYS/#"} }, "subscribe"},
		{"error/rotate-at", func(c *Config) { c.RotateAt = 1.2 }, "rotate_at"},
		{"error/jitter-beyond-rotate-at", func(c *Config) { c.RotateAt, c.RotateJitter = 0.5, 0.6 }, "rotate_jitter"},
		{"error/backoff-order", func(c *Config) { c.BackoffMin, c.BackoffMax = Duration{time.Minute}, Duration{time.Second} }, "backoff_min"},
		{"error/keepalive-too-long", func(c *Config) { c.KeepAlive = Duration{20 * time.Hour} }, "keepalive"},
		{"error/negative-queue", func(c *Config) { c.MaxQueued = -1 }, "max_queued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	err := Config{}.Validate()
	for _, field := range []string{"device_id", "provisioning_url", "broker", "ca_file", "key_source"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("an empty configuration's error does not name %s: %v", field, err)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	c := validConfig()
	env := map[string]string{
		"DEVICE_AGENT_BROKER":        "c.example:8883",
		"DEVICE_AGENT_BACKOFF_MIN":   "2s",
		"DEVICE_AGENT_SUBSCRIBE":     "a/#, b",
		"DEVICE_AGENT_MAX_QUEUED":    "7",
		"DEVICE_AGENT_ROTATE_JITTER": "0.1",
	}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Broker != "c.example:8883" || c.BackoffMin.Duration != 2*time.Second || c.MaxQueued != 7 ||
		len(c.Subscribe) != 2 || c.Subscribe[1] != "b" || c.RotateJitter != 0.1 || c.DeviceID != "dev-1" {
		t.Errorf("after LoadEnv: %+v", c)
	}
	for _, tt := range []struct{ name, key, value string }{
		{"error/duration", "DEVICE_AGENT_KEEPALIVE", "soon"},
		{"error/float", "DEVICE_AGENT_ROTATE_AT", "two thirds"},
		{"error/int", "DEVICE_AGENT_MAX_INFLIGHT", "many"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.LoadEnv(func(k string) string {
				if k == tt.key {
					return tt.value
				}
				return ""
			})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("got %v, want ErrConfig naming %s", err, tt.key)
			}
		})
	}
}

// TestNewKeepsDisabledJitter: a negative jitter means none, and New must
// not turn it back into the default.
func TestNewKeepsDisabledJitter(t *testing.T) {
	c := validConfig()
	c.CAFile, c.RootCAs = "", x509.NewCertPool()
	c.RotateAt, c.RotateJitter = 0.02, -1
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.RotateJitter != 0 {
		t.Errorf("jitter %v, want 0", a.cfg.RotateJitter)
	}
}
