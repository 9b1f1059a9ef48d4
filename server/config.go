package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// Duration is a time.Duration that reads and writes as "10s" in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration in Go's text form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "10s", "720h" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Config is everything a server reads. The tagged fields are the JSON
// config file's keys; the untagged ones are set by the program that embeds
// the server (the fleetgate command layers defaults, the file, FLEETGATE_*
// environment variables and flags, lowest first).
type Config struct {
	DataDir          string   `json:"data_dir"`          // registry.db and ca/ live here
	MQTTAddr         string   `json:"mqtt_addr"`         // device mTLS listener
	WSSAddr          string   `json:"wss_addr"`          // MQTT over secure WebSockets, wss://<addr>/mqtt, same mTLS checks ("" disables)
	APIAddr          string   `json:"api_addr"`          // operator HTTPS API
	OpsAddr          string   `json:"ops_addr"`          // plain HTTP: /metrics, /healthz, /readyz, /crl ("" disables)
	OpsPprof         bool     `json:"ops_pprof"`         // also serve /debug/pprof/ on the ops listener (off: profiles show internals)
	ServerNames      []string `json:"server_names"`      // extra DNS names/IPs in the server certificate
	PublicURL        string   `json:"public_url"`        // base of the CRL and OCSP URLs in device certificates ("" for none)
	RevocationAddr   string   `json:"revocation_addr"`   // plain HTTP for relying parties: /crl/, /ocsp ("" : DefaultRevocationAddr when public_url is set)
	HandshakeTimeout Duration `json:"handshake_timeout"` // TLS handshake + CONNECT deadline
	MaxPacketSize    uint32   `json:"max_packet_size"`   // bytes; larger MQTT packets close the connection
	MaxPending       int      `json:"max_pending"`       // connections not yet authenticated
	CertLifetime     Duration `json:"cert_lifetime"`     // default device certificate lifetime
	EKRoots          string   `json:"ek_roots"`          // PEM bundle of TPM manufacturer roots (+ intermediates) for EK certificates
	ChallengeTTL     Duration `json:"challenge_ttl"`     // lifetime of a TPM enrollment challenge and nonce
	LogFormat        string   `json:"log_format"`        // text or json
	LogLevel         string   `json:"log_level"`         // debug, info, warn, error
	ReloadInterval   Duration `json:"reload_interval"`   // how often CA and config files are checked for changes (0: only on Reload)
	GCPercent        int      `json:"gc_percent"`        // garbage collector target (gc.go); GOGC wins, see GCEnv
	MemoryLimit      ByteSize `json:"memory_limit"`      // soft memory limit, 0: none; GOMEMLIMIT wins, see GCEnv

	// Registry and roles (registry.go). Registry is empty for the bbolt
	// file in DataDir, bolt://FILE, or etcd://HOST:PORT,...[/PREFIX]; with
	// etcd, Role splits the broker and the API into separate processes.
	Registry      string   `json:"registry"`
	RegistryGrace Duration `json:"registry_grace"` // etcd: how long brokers judge devices from their copy while etcd is silent
	Role          string   `json:"role"`           // all, broker or api
	EtcdCA        string   `json:"etcd_ca"`        // PEM CA bundle for etcd's client TLS
	EtcdCert      string   `json:"etcd_cert"`      // client certificate for etcd
	EtcdKey       string   `json:"etcd_key"`

	// Bus joins the brokers into one MQTT service over NATS (bus.go):
	// nats://HOST:PORT,... ; empty for a broker on its own. BusCA, BusCert
	// and BusKey give TLS to NATS as etcd_* do to etcd.
	Bus     string `json:"bus"`
	BusCA   string `json:"bus_ca"`
	BusCert string `json:"bus_cert"`
	BusKey  string `json:"bus_key"`
	// BusRetention is how long QoS 1 messages and persistent session
	// records stay on the bus (JetStream) for devices that are away;
	// BusReplicas how many NATS nodes hold them (0: up to three).
	BusRetention Duration `json:"bus_retention"`
	BusReplicas  int      `json:"bus_replicas"`
	// BusStoreTimeout bounds the wait for the bus to store a QoS 1
	// message before its publisher is refused.
	BusStoreTimeout Duration `json:"bus_store_timeout"`

	// BundleDir, for role broker only, is a broker bundle written by
	// `fleetgate ca broker-bundle`: the broker serves and verifies from it
	// and holds no CA key. Empty: the CA directory under DataDir.
	BundleDir string `json:"bundle_dir"`

	// CA keys in a PKCS#11 token (hsmkeys.go), read at start: the module,
	// the token label and the user PIN from a file or a named variable.
	HSMModule  string `json:"hsm_module"`
	HSMToken   string `json:"hsm_token"`
	HSMPINFile string `json:"hsm_pin_file"`
	HSMPINEnv  string `json:"hsm_pin_env"`

	// Reread reads the configuration again for a reload, layered as it
	// was at start. Nil: the configuration stays as started and a reload
	// changes only the CA material.
	Reread func() (Config, error) `json:"-"`
	// LogOutput receives the server's logs; os.Stderr when nil.
	LogOutput io.Writer `json:"-"`
	// GCEnv is what the Go runtime read from GOGC and GOMEMLIMIT: the
	// server reads no environment, and those variables stand over
	// gc_percent and memory_limit.
	GCEnv GCEnv `json:"-"`

	file   string      // the file LoadFile read: watched for changes
	fileFP fingerprint // its digest as read, so a change made before Start is seen

	// Limits are the broker's per-device and per-source limits (limits.go).
	Limits LimitsConfig `json:"limits"`
}

// DefaultConfig returns the embedded single-host defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:          "data",
		MQTTAddr:         ":8883",
		APIAddr:          ":8443",
		OpsAddr:          "127.0.0.1:9883",
		HandshakeTimeout: Duration{10 * time.Second},
		MaxPacketSize:    256 << 10,
		MaxPending:       1024,
		CertLifetime:     Duration{30 * 24 * time.Hour},
		ChallengeTTL:     Duration{60 * time.Second},
		LogFormat:        "text",
		LogLevel:         "info",
		ReloadInterval:   Duration{2 * time.Second},
		GCPercent:        DefaultGCPercent,
		RegistryGrace:    Duration{5 * time.Minute},
		BusRetention:     Duration{24 * time.Hour},
		BusStoreTimeout:  Duration{bus.DefaultPublishTimeout},
		Role:             RoleAll,
	}
}

// LoadFile merges a JSON config file into c, and makes it the file a
// server started with c watches for changes. Unknown fields are errors, so
// a typo does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	// The digest of the bytes just decoded: a change made from here on,
	// even before the server starts, is a change.
	c.file, c.fileFP = path, digestContents(filepath.Base(path), data)
	return nil
}

// Validate checks the configuration before anything starts. The error
// wraps ErrInvalidConfig and names every field that is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.MQTTAddr == "" && c.Role != RoleAPI {
		errs = append(errs, errors.New("mqtt_addr must be set"))
	}
	if c.WSSAddr != "" && c.Role == RoleAPI {
		errs = append(errs, errors.New("wss_addr is for the broker: role api runs no MQTT listener"))
	}
	if c.WSSAddr != "" && c.WSSAddr == c.MQTTAddr && !strings.HasSuffix(c.WSSAddr, ":0") {
		errs = append(errs, fmt.Errorf("wss_addr and mqtt_addr are both %q: the WebSocket listener needs its own port", c.WSSAddr))
	}
	if c.APIAddr == "" && c.Role != RoleBroker {
		errs = append(errs, errors.New("api_addr must be set"))
	}
	errs = append(errs, c.validateRegistry()...)
	errs = append(errs, c.validateBus()...)
	if c.BundleDir != "" && c.Role != RoleBroker {
		errs = append(errs, fmt.Errorf("bundle_dir is for role broker only, not %q: a process serving the API signs certificates and needs the CA directory", c.Role))
	}
	if h := c.hsm(); h.Enabled() {
		if err := h.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.HandshakeTimeout.Duration <= 0 {
		errs = append(errs, errors.New("handshake_timeout must be positive"))
	}
	if c.MaxPacketSize < 1024 {
		errs = append(errs, fmt.Errorf("max_packet_size %d is below 1024 bytes", c.MaxPacketSize))
	}
	if c.MaxPending < 1 {
		errs = append(errs, errors.New("max_pending must be at least 1"))
	}
	if c.CertLifetime.Duration < time.Hour || c.CertLifetime.Duration > 397*24*time.Hour {
		errs = append(errs, fmt.Errorf("cert_lifetime %s must be between 1h and 397 days", c.CertLifetime))
	}
	if c.ChallengeTTL.Duration < time.Second || c.ChallengeTTL.Duration > time.Hour {
		errs = append(errs, fmt.Errorf("challenge_ttl %s must be between 1s and 1h", c.ChallengeTTL))
	}
	if d := c.ReloadInterval.Duration; d < 0 || (d > 0 && d < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("reload_interval %s must be 0 (SIGHUP only) or at least 100ms", c.ReloadInterval))
	}
	if c.PublicURL != "" {
		if err := ca.CheckPublicURL(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("public_url: %w", err))
		}
	}
	errs = append(errs, c.validateGC()...)
	errs = append(errs, c.Limits.validate()...)
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format %q must be text or json", c.LogFormat))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n%w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func (c Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Logger builds the server's logger from LogFormat and LogOutput, with its
// level taken from level at every record, so that a reload can change it.
// level is set to LogLevel here.
func (c Config) Logger(level *slog.LevelVar) *slog.Logger {
	lvl, _ := c.level()
	level.Set(lvl)
	out := c.LogOutput
	if out == nil {
		out = os.Stderr
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// DefaultRevocationAddr is where relying parties fetch CRLs and OCSP
// responses when public_url is set and revocation_addr is not.
const DefaultRevocationAddr = ":8880"

// RevocationListen is the address of the relying-party listener: empty
// (none) unless revocation_addr or public_url is set. Role broker runs
// none: it holds no CA key to sign with.
func (c Config) RevocationListen() string {
	switch {
	case c.Role == RoleBroker:
		return ""
	case c.RevocationAddr != "":
		return c.RevocationAddr
	case c.PublicURL != "":
		return DefaultRevocationAddr
	}
	return ""
}

// RegistryPath is the bbolt file holding the registry.
func (c Config) RegistryPath() string { return filepath.Join(c.DataDir, "registry.db") }

// CADir holds the CA keys and certificates.
func (c Config) CADir() string { return filepath.Join(c.DataDir, "ca") }
