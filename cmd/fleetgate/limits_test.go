package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/server"
)

// TestLimitsConfig: each limit comes from the file, FLEETGATE_LIMIT_* over
// it, and --limit-* over both; a negative or unparsable one is refused by
// name.
func TestLimitsConfig(t *testing.T) {
	c := fileThenEnv(t, `{"limits": {"publish_rate": 5, "publish_burst": 9, "byte_rate": 100, "max_subscriptions": 3, "connects_per_minute": 4}}`,
		map[string]string{
			"FLEETGATE_LIMIT_PUBLISH_RATE":        "7.5",
			"FLEETGATE_LIMIT_HANDSHAKE_RATE":      "20",
			"FLEETGATE_LIMIT_HANDSHAKE_BURST":     "40",
			"FLEETGATE_LIMIT_CONNECTS_PER_MINUTE": "6",
			"FLEETGATE_LIMIT_RATE_ACTION":         "disconnect",
			"FLEETGATE_LIMIT_MAX_INFLIGHT":        "8",
		})
	want := server.LimitsConfig{PublishRate: 7.5, PublishBurst: 9, ByteRate: 100, MaxSubscriptions: 3, HandshakeRate: 20, HandshakeBurst: 40, ConnectsPerMinute: 6,
		RateAction: "disconnect", MaxInflight: 8}
	if c.Limits != want {
		t.Fatalf("file then env: %+v, want %+v", c.Limits, want)
	}
	cmd := serveCommand()
	if err := cmd.Flags().Parse([]string{"--limit-publish-rate", "50", "--limit-max-subscriptions", "10", "--limit-byte-rate", "65536",
		"--limit-publish-burst", "100", "--limit-handshake-rate", "1", "--limit-handshake-burst", "2", "--limit-connects-per-minute", "12",
		"--limit-rate-action", "throttle", "--limit-max-inflight", "16"}); err != nil {
		t.Fatal(err)
	}
	var flags server.Config
	flags.Limits.PublishRate, _ = cmd.Flags().GetFloat64("limit-publish-rate")
	flags.Limits.PublishBurst, _ = cmd.Flags().GetInt("limit-publish-burst")
	flags.Limits.ByteRate, _ = cmd.Flags().GetFloat64("limit-byte-rate")
	flags.Limits.MaxSubscriptions, _ = cmd.Flags().GetInt("limit-max-subscriptions")
	flags.Limits.HandshakeRate, _ = cmd.Flags().GetFloat64("limit-handshake-rate")
	flags.Limits.HandshakeBurst, _ = cmd.Flags().GetInt("limit-handshake-burst")
	flags.Limits.ConnectsPerMinute, _ = cmd.Flags().GetInt("limit-connects-per-minute")
	flags.Limits.RateAction, _ = cmd.Flags().GetString("limit-rate-action")
	flags.Limits.MaxInflight, _ = cmd.Flags().GetInt("limit-max-inflight")
	applyFlags(cmd, &c, flags)
	if c.Limits != flags.Limits {
		t.Fatalf("flags over env: %+v, want %+v", c.Limits, flags.Limits)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	// A flag not given leaves the env's value.
	c = fileThenEnv(t, `{}`, map[string]string{"FLEETGATE_LIMIT_BYTE_RATE": "10"})
	cmd = serveCommand()
	if err := cmd.Flags().Parse([]string{"--limit-publish-rate", "1"}); err != nil {
		t.Fatal(err)
	}
	applyFlags(cmd, &c, server.Config{Limits: server.LimitsConfig{PublishRate: 1}})
	if c.Limits.ByteRate != 10 || c.Limits.PublishRate != 1 {
		t.Fatalf("one flag over env: %+v", c.Limits)
	}

	c = fileThenEnv(t, `{"limits": {"publish_rate": -1, "max_inflight": 70000}}`, map[string]string{"FLEETGATE_LIMIT_CONNECTS_PER_MINUTE": "-2", "FLEETGATE_LIMIT_RATE_ACTION": "ignore"})
	err := c.Validate()
	for _, named := range []string{"limits.publish_rate -1", "limits.connects_per_minute -2", "limits.max_inflight 70000", `limits.rate_action "ignore"`} {
		if !errors.Is(err, server.ErrInvalidConfig) || !strings.Contains(err.Error(), named) {
			t.Fatalf("bad limits: Validate = %v, want %s named", err, named)
		}
	}
	for k, v := range map[string]string{"FLEETGATE_LIMIT_PUBLISH_RATE": "fast", "FLEETGATE_LIMIT_MAX_SUBSCRIPTIONS": "1.5"} {
		c := server.DefaultConfig()
		if err := loadEnv(&c, func(key string) string { return map[string]string{k: v}[key] }); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: loadEnv = %v, want an error naming it", k, v, err)
		}
	}
}
