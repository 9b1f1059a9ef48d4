package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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

// Config is everything `fleetgate serve` reads. Precedence, lowest first:
// defaults, the JSON config file, FLEETGATE_* environment variables, flags.
type Config struct {
	DataDir          string   `json:"data_dir"`          // registry.db and ca/ live here
	MQTTAddr         string   `json:"mqtt_addr"`         // device mTLS listener
	APIAddr          string   `json:"api_addr"`          // operator HTTPS API
	OpsAddr          string   `json:"ops_addr"`          // plain HTTP: /metrics, /healthz, /readyz, /crl ("" disables)
	ServerNames      []string `json:"server_names"`      // extra DNS names/IPs in the server certificate
	HandshakeTimeout Duration `json:"handshake_timeout"` // TLS handshake + CONNECT deadline
	MaxPacketSize    uint32   `json:"max_packet_size"`   // bytes; larger MQTT packets close the connection
	MaxPending       int      `json:"max_pending"`       // connections not yet authenticated
	CertLifetime     Duration `json:"cert_lifetime"`     // default device certificate lifetime
	EKRoots          string   `json:"ek_roots"`          // PEM bundle of TPM manufacturer roots (+ intermediates) for EK certificates
	ChallengeTTL     Duration `json:"challenge_ttl"`     // lifetime of a TPM enrollment challenge and nonce
	LogFormat        string   `json:"log_format"`        // text or json
	LogLevel         string   `json:"log_level"`         // debug, info, warn, error
	ReloadInterval   Duration `json:"reload_interval"`   // how often CA and config files are checked for changes (0: only on SIGHUP)
	GCPercent        int      `json:"gc_percent"`        // garbage collector target (gc.go); the GOGC environment variable wins
	MemoryLimit      ByteSize `json:"memory_limit"`      // soft memory limit, 0: none; the GOMEMLIMIT environment variable wins

	// Registry and roles (registry.go). Registry is empty for the bbolt
	// file in DataDir, bolt://FILE, or etcd://HOST:PORT,...[/PREFIX]; with
	// etcd, Role splits the broker and the API into separate processes.
	Registry      string   `json:"registry"`
	RegistryGrace Duration `json:"registry_grace"` // etcd: how long brokers judge devices from their copy while etcd is silent
	Role          string   `json:"role"`           // all, broker or api
	EtcdCA        string   `json:"etcd_ca"`        // PEM CA bundle for etcd's client TLS
	EtcdCert      string   `json:"etcd_cert"`      // client certificate for etcd
	EtcdKey       string   `json:"etcd_key"`
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
		Role:             RoleAll,
	}
}

// LoadFile merges a JSON config file into c. Unknown fields are errors, so a
// typo does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// LoadEnv applies FLEETGATE_* variables that are set.
func (c *Config) LoadEnv(getenv func(string) string) error {
	str := map[string]*string{
		"FLEETGATE_DATA_DIR":   &c.DataDir,
		"FLEETGATE_MQTT_ADDR":  &c.MQTTAddr,
		"FLEETGATE_API_ADDR":   &c.APIAddr,
		"FLEETGATE_OPS_ADDR":   &c.OpsAddr,
		"FLEETGATE_LOG_FORMAT": &c.LogFormat,
		"FLEETGATE_LOG_LEVEL":  &c.LogLevel,
		"FLEETGATE_EK_ROOTS":   &c.EKRoots,
		"FLEETGATE_REGISTRY":   &c.Registry,
		"FLEETGATE_ROLE":       &c.Role,
		"FLEETGATE_ETCD_CA":    &c.EtcdCA,
		"FLEETGATE_ETCD_CERT":  &c.EtcdCert,
		"FLEETGATE_ETCD_KEY":   &c.EtcdKey,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("FLEETGATE_SERVER_NAMES"); v != "" {
		c.ServerNames = strings.Split(v, ",")
	}
	dur := map[string]*Duration{
		"FLEETGATE_HANDSHAKE_TIMEOUT": &c.HandshakeTimeout,
		"FLEETGATE_CERT_LIFETIME":     &c.CertLifetime,
		"FLEETGATE_CHALLENGE_TTL":     &c.ChallengeTTL,
		"FLEETGATE_RELOAD_INTERVAL":   &c.ReloadInterval,
		"FLEETGATE_REGISTRY_GRACE":    &c.RegistryGrace,
	}
	for k, p := range dur {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			p.Duration = d
		}
	}
	if v := getenv("FLEETGATE_MAX_PACKET_SIZE"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("FLEETGATE_MAX_PACKET_SIZE: %w", err)
		}
		c.MaxPacketSize = uint32(n)
	}
	if v := getenv("FLEETGATE_MAX_PENDING"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FLEETGATE_MAX_PENDING: %w", err)
		}
		c.MaxPending = n
	}
	return c.loadGCEnv(getenv)
}

// Validate checks the configuration before anything starts.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.MQTTAddr == "" && c.Role != RoleAPI {
		errs = append(errs, errors.New("mqtt_addr must be set"))
	}
	if c.APIAddr == "" && c.Role != RoleBroker {
		errs = append(errs, errors.New("api_addr must be set"))
	}
	errs = append(errs, c.validateRegistry()...)
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
	errs = append(errs, c.validateGC()...)
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format %q must be text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

func (c Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Logger builds the process logger from LogFormat, with its level taken
// from level at every record, so that a reload can change it. level is set
// to LogLevel here.
func (c Config) Logger(level *slog.LevelVar) *slog.Logger {
	lvl, _ := c.level()
	level.Set(lvl)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// RegistryPath is the bbolt file holding the registry.
func (c Config) RegistryPath() string { return filepath.Join(c.DataDir, "registry.db") }

// CADir holds the CA keys and certificates.
func (c Config) CADir() string { return filepath.Join(c.DataDir, "ca") }
