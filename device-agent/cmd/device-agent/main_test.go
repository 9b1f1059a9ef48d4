package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok/clean-stop", nil, exitOK},
		{"error/revoked", fmt.Errorf("x: %w", agent.ErrRevoked), exitRevoked},
		{"error/needs-enrollment", fmt.Errorf("x: %w", agent.ErrNeedsEnrollment), exitNeedsEnroll},
		{"error/refused", fmt.Errorf("x: %w", agent.ErrRefused), exitRefused},
		{"error/config", agent.ErrConfig, exitUsage},
		{"error/clock", agent.ErrClock, exitFailure},
		{"error/other", errors.New("tpm gone"), exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
			if tt.err != nil && tt.want != exitFailure && hint(tt.err) == "" && tt.want != exitUsage {
				t.Errorf("no hint for %v", tt.err)
			}
		})
	}
}

// TestLoadConfigPrecedence: flags over environment over file over
// defaults.
func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	body := `{"device_id": "from-file", "provisioning_url": "https://file.example:8443", "broker": "file.example:8883",
	  "ca_file": "/file/ca.pem", "key_source": "software", "state_dir": "/file/state", "backoff_max": "30s", "log_level": "debug"}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DEVICE_AGENT_CONFIG":     file,
		"DEVICE_AGENT_BROKER":     "env.example:8883",
		"DEVICE_AGENT_DEVICE_ID":  "from-env",
		"DEVICE_AGENT_LOG_FORMAT": "json",
	}
	cfg, log, err := loadConfig([]string{"-device-id", "from-flag"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"device_id (flag)":       {cfg.DeviceID, "from-flag"},
		"broker (env)":           {cfg.Broker, "env.example:8883"},
		"ca_file (file)":         {cfg.CAFile, "/file/ca.pem"},
		"state_dir (file)":       {cfg.StateDir, "/file/state"},
		"token_file (default)":   {cfg.TokenFile, DefaultTokenFile},
		"status_topic (default)": {cfg.StatusTopic, agent.DefaultStatusTopic},
		"log level (file)":       {log.level, "debug"},
		"log format (env)":       {log.format, "json"},
	}
	for what, got := range want {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", what, got[0], got[1])
		}
	}
	if cfg.BackoffMax.Duration != 30*time.Second || cfg.BackoffMin.Duration != agent.DefaultBackoffMin {
		t.Errorf("backoff %v..%v", cfg.BackoffMin, cfg.BackoffMax)
	}
}

// TestLoadConfigBrokers: the file may list several brokers; -broker (one
// address or a comma-separated list) replaces them.
func TestLoadConfigBrokers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	body := `{"device_id": "d", "provisioning_url": "https://p.example:8443", "brokers": ["a.example:8883", "b.example:8883"],
	  "key_source": "software", "state_dir": "/s"}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ok/file-list", nil, "a.example:8883 b.example:8883"},
		{"ok/flag-one", []string{"-broker", "c.example:8883"}, "c.example:8883"},
		{"ok/flag-list", []string{"-broker", "c.example:8883,d.example:8883"}, "c.example:8883 d.example:8883"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-config", file}, tt.args...)
			cfg, _, err := loadConfig(args, func(string) string { return "" }, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.BrokerList(), " "); got != tt.want {
				t.Errorf("brokers %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRunUsageErrors: what a person gets wrong is answered with exit code
// 2 and a message naming it, before anything starts.
func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"brokr": "x"}`), 0o600)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte(`{}`), 0o600)
	both := filepath.Join(dir, "both.json")
	os.WriteFile(both, []byte(`{"broker": "a.example:8883", "brokers": ["b.example:8883"]}`), 0o600)
	base := []string{"-device-id", "d", "-provisioning-url", "https://p:1", "-key-source", "software"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"error/unknown-flag", []string{"-nope"}, "flag provided but not defined"},
		{"error/unknown-field", []string{"-config", bad}, "unknown field"},
		{"error/missing-fields", []string{"-config", empty}, "device_id"},
		{"error/stray-argument", []string{"run"}, "unexpected arguments"},
		{"error/log-level", []string{"-device-id", "d", "-provisioning-url", "https://p:1", "-broker", "b:1",
			"-key-source", "software", "-log-level", "loud"}, "log_level"},
		{"error/broker-and-brokers", append([]string{"-config", both}, base...), "set one of them"},
		{"error/broker-list-entry", append([]string{"-broker", "a:1,b"}, base...), `brokers[1] "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tt.args, func(string) string { return "" }, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", code, stderr.String(), exitUsage, tt.want)
			}
		})
	}
}
