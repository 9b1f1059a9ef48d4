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
		{"error/broker-named-port", func(c *Config) { c.Broker = "fleet.example:mqtts" }, "port"},
		{"error/no-broker", func(c *Config) { c.Broker = "" }, "broker"},
		{"ok/brokers", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883", "b.example:8883"} }, ""},
		{"ok/brokers-one", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883"} }, ""},
		{"error/broker-and-brokers", func(c *Config) { c.Brokers = []string{"a.example:8883"} }, "set one of them"},
		{"error/brokers-entry", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883", "b.example"} },
			`brokers[1] "b.example"`},
		{"error/brokers-empty-entry", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883", ""} },
			`brokers[1] ""`},
		{"error/brokers-twice", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883", "a.example:8883"} },
			"listed twice"},
		{"error/brokers-port-range", func(c *Config) { c.Broker, c.Brokers = "", []string{"a.example:8883", "b.example:70000"} },
			"brokers[1]"},
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
	if c.Brokers != nil {
		t.Errorf("one address in DEVICE_AGENT_BROKER gave brokers %q", c.Brokers)
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

// TestLoadEnvBrokers: either variable takes a list and replaces both
// broker and brokers of the layer below; both at once is an error.
func TestLoadEnvBrokers(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		fileBrokers []string // else the file names one broker
		broker      string
		brokers     []string
		err         string
	}{
		{"ok/list-over-broker", map[string]string{"DEVICE_AGENT_BROKERS": "a:1, b:2"}, nil, "", []string{"a:1", "b:2"}, ""},
		{"ok/list-in-broker-variable", map[string]string{"DEVICE_AGENT_BROKER": "a:1,b:2"}, nil, "", []string{"a:1", "b:2"}, ""},
		{"ok/one-over-list", map[string]string{"DEVICE_AGENT_BROKERS": "c:3"}, []string{"a:1", "b:2"}, "c:3", nil, ""},
		{"ok/unset-keeps-file", nil, []string{"a:1", "b:2"}, "", []string{"a:1", "b:2"}, ""},
		{"error/both", map[string]string{"DEVICE_AGENT_BROKER": "a:1", "DEVICE_AGENT_BROKERS": "b:2"}, nil, "", nil,
			"DEVICE_AGENT_BROKER and DEVICE_AGENT_BROKERS"},
		{"error/empty-entry", map[string]string{"DEVICE_AGENT_BROKERS": "a:1,"}, nil, "", []string{"a:1", ""}, `brokers[1] ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			if tt.fileBrokers != nil {
				c.Broker, c.Brokers = "", tt.fileBrokers
			}
			err := c.LoadEnv(func(k string) string { return tt.env[k] })
			if err == nil {
				err = c.Validate()
			}
			if tt.err != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want ErrConfig naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Broker != tt.broker || strings.Join(c.Brokers, " ") != strings.Join(tt.brokers, " ") {
				t.Errorf("broker %q, brokers %q; want %q, %q", c.Broker, c.Brokers, tt.broker, tt.brokers)
			}
			want := tt.brokers
			if tt.broker != "" {
				want = []string{tt.broker}
			}
			if got := c.BrokerList(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("BrokerList() = %q, want %q", got, want)
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
