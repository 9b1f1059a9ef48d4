package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// Defaults of the binary, where a library default (in memory, no file)
// would be wrong for a device.
const (
	// DefaultConfigFile is read when it exists and no -config is given.
	DefaultConfigFile = "/etc/device-agent/config.json"
	DefaultCAFile     = "/etc/device-agent/ca.pem"
	DefaultTokenFile  = "/etc/device-agent/token"
	DefaultStateDir   = "/var/lib/device-agent"
)

// errHelp is loadConfig's answer to -h.
var errHelp = errors.New("help requested")

// fileConfig is the configuration file: the agent's fields plus logging.
type fileConfig struct {
	agent.Config
	LogLevel  string `json:"log_level,omitempty"`
	LogFormat string `json:"log_format,omitempty"`
	// Heartbeat, if set, is the interval of devices/<id>/heartbeat.
	Heartbeat agent.Duration `json:"heartbeat,omitzero"`
}

// runOptions are the binary's own settings: the logger and the heartbeat.
type runOptions struct {
	level, format string
	heartbeat     time.Duration
}

// loadConfig builds the configuration: defaults, then the file, then
// DEVICE_AGENT_* variables, then flags, each overriding the one before.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (agent.Config, runOptions, error) {
	fs := flag.NewFlagSet("device-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configFile = fs.String("config", "", "JSON configuration file (default "+DefaultConfigFile+" if it exists; env DEVICE_AGENT_CONFIG)")
		set        = map[string]*string{}
	)
	for _, f := range []struct{ name, usage string }{
		{"device-id", "device ID (its certificate names urn:fleetgate:device:<id>)"},
		{"provisioning-url", "provisioning API base URL, https://host:port"},
		{"broker", "MQTT broker address, host:port; several, comma-separated, to fail over between (replaces broker and brokers of the file)"},
		{"ca-file", "PEM file with the fleet root CA (default " + DefaultCAFile + ")"},
		{"key-source", "tpm or software"},
		{"tpm-path", "TPM device or tcp://host:port for swtpm (default " + agent.DefaultTPMPath + ")"},
		{"token-file", "file holding a one-time enrollment token, software keys (default " + DefaultTokenFile + ")"},
		{"state-dir", "directory for the key, certificate and rotation state (default " + DefaultStateDir + ")"},
		{"log-level", "debug, info, warn or error (default info)"},
		{"log-format", "text or json (default text)"},
	} {
		set[f.name] = fs.String(f.name, "", f.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: device-agent [flags]\n\nConfiguration: defaults < -config file < DEVICE_AGENT_* environment < flags.\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return agent.Config{}, runOptions{}, errHelp
		}
		return agent.Config{}, runOptions{}, err
	}
	if fs.NArg() > 0 {
		return agent.Config{}, runOptions{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	fc := fileConfig{Config: agent.DefaultConfig(), LogLevel: "info", LogFormat: "text"}
	fc.CAFile, fc.TokenFile, fc.StateDir = DefaultCAFile, DefaultTokenFile, DefaultStateDir
	path := *configFile
	if path == "" {
		path = getenv("DEVICE_AGENT_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(DefaultConfigFile); err == nil {
			path = DefaultConfigFile
		}
	}
	if path != "" {
		if err := loadFile(path, &fc); err != nil {
			return agent.Config{}, runOptions{}, err
		}
	}
	if err := fc.LoadEnv(getenv); err != nil {
		return agent.Config{}, runOptions{}, err
	}
	log := runOptions{level: fc.LogLevel, format: fc.LogFormat, heartbeat: fc.Heartbeat.Duration}
	for env, dst := range map[string]*string{"DEVICE_AGENT_LOG_LEVEL": &log.level, "DEVICE_AGENT_LOG_FORMAT": &log.format} {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	if v := getenv("DEVICE_AGENT_HEARTBEAT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return agent.Config{}, runOptions{}, fmt.Errorf("%w: DEVICE_AGENT_HEARTBEAT %q: want a duration such as 5m", agent.ErrConfig, v)
		}
		log.heartbeat = d
	}
	if log.heartbeat < 0 {
		return agent.Config{}, runOptions{}, fmt.Errorf("%w: heartbeat %s: must not be negative", agent.ErrConfig, log.heartbeat)
	}
	c := &fc.Config
	for name, dst := range map[string]*string{
		"device-id": &c.DeviceID, "provisioning-url": &c.ProvisioningURL, "ca-file": &c.CAFile,
		"key-source": &c.KeySource, "tpm-path": &c.TPMPath, "token-file": &c.TokenFile, "state-dir": &c.StateDir,
		"log-level": &log.level, "log-format": &log.format,
	} {
		if v := *set[name]; v != "" {
			*dst = v
		}
	}
	if v := *set["broker"]; v != "" {
		c.SetBrokers(v)
	}
	if err := c.Validate(); err != nil {
		return agent.Config{}, runOptions{}, err
	}
	if c.StateDir == "" {
		// In memory, every restart would enroll anew (and burn a token).
		return agent.Config{}, runOptions{}, fmt.Errorf("%w: state_dir: required", agent.ErrConfig)
	}
	return *c, log, nil
}

// loadFile reads the JSON configuration file over fc. Unknown fields are
// an error, so a typo does not silently fall back to a default.
func loadFile(path string, fc *fileConfig) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", agent.ErrConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fc); err != nil {
		return fmt.Errorf("%w: %s: %w", agent.ErrConfig, path, err)
	}
	return nil
}

// logger returns the slog logger the options describe, writing to w
// (stderr: systemd's journal keeps it).
func (o runOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, fmt.Errorf("%w: log_level %q: want debug, info, warn or error", agent.ErrConfig, o.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: log_format %q: want text or json", agent.ErrConfig, o.format)
	}
}
