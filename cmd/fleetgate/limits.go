package main

import (
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetgate/fleetgate/server"
)

// The limits object (server.LimitsConfig) by environment and flags: each
// key limits.<name> is FLEETGATE_LIMIT_<NAME> and --limit-<name>.

// limitsEnv applies the FLEETGATE_LIMIT_* variables that are set to c.
func limitsEnv(c *server.Config, getenv func(string) string) error {
	l := &c.Limits
	parseFloat := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	if err := fromEnv(getenv, parseFloat, map[string]*float64{
		"FLEETGATE_LIMIT_PUBLISH_RATE":   &l.PublishRate,
		"FLEETGATE_LIMIT_BYTE_RATE":      &l.ByteRate,
		"FLEETGATE_LIMIT_HANDSHAKE_RATE": &l.HandshakeRate,
	}); err != nil {
		return err
	}
	if err := fromEnv(getenv, func(s string) (string, error) { return s, nil }, map[string]*string{
		"FLEETGATE_LIMIT_RATE_ACTION": &l.RateAction,
	}); err != nil {
		return err
	}
	return fromEnv(getenv, strconv.Atoi, map[string]*int{
		"FLEETGATE_LIMIT_MAX_INFLIGHT":        &l.MaxInflight,
		"FLEETGATE_LIMIT_PUBLISH_BURST":       &l.PublishBurst,
		"FLEETGATE_LIMIT_MAX_SUBSCRIPTIONS":   &l.MaxSubscriptions,
		"FLEETGATE_LIMIT_HANDSHAKE_BURST":     &l.HandshakeBurst,
		"FLEETGATE_LIMIT_CONNECTS_PER_MINUTE": &l.ConnectsPerMinute,
	})
}

// limitsFlags binds the --limit-* flags to cfg.Limits.
func limitsFlags(f *pflag.FlagSet, cfg *server.Config) {
	l := &cfg.Limits
	f.Float64Var(&l.PublishRate, "limit-publish-rate", 0, "PUBLISH packets per second per device; over it the device is throttled or disconnected (--limit-rate-action) (0: no limit)")
	f.IntVar(&l.PublishBurst, "limit-publish-burst", 0, "burst of --limit-publish-rate (0: twice the rate)")
	f.Float64Var(&l.ByteRate, "limit-byte-rate", 0, "payload bytes per second per device; over it the device is throttled or disconnected (0: no limit)")
	f.IntVar(&l.MaxSubscriptions, "limit-max-subscriptions", 0, "subscriptions per session; filters beyond it are refused (0: no limit)")
	f.Float64Var(&l.HandshakeRate, "limit-handshake-rate", 0, "new connections per second per source IP, checked before TLS; broker-wide, never per group: no identity exists yet (0: no limit)")
	f.IntVar(&l.HandshakeBurst, "limit-handshake-burst", 0, "burst of --limit-handshake-rate (0: twice the rate)")
	f.IntVar(&l.ConnectsPerMinute, "limit-connects-per-minute", 0, "CONNECTs per device identity per minute; over it CONNACK quota exceeded (0: no limit)")
	f.StringVar(&l.RateAction, "limit-rate-action", "", "over the publish or byte rate: throttle (pause reading the device; default) or disconnect")
	f.IntVar(&l.MaxInflight, "limit-max-inflight", 0, "unacknowledged QoS 1/2 messages per session each way; MQTT 5 devices are told it as Receive Maximum (0: no limit)")
}

// applyLimitsFlags copies the --limit-* flags the user set into dst.
func applyLimitsFlags(cmd *cobra.Command, dst *server.Config, src server.Config) {
	for name, apply := range map[string]func(){
		"limit-publish-rate":        func() { dst.Limits.PublishRate = src.Limits.PublishRate },
		"limit-publish-burst":       func() { dst.Limits.PublishBurst = src.Limits.PublishBurst },
		"limit-byte-rate":           func() { dst.Limits.ByteRate = src.Limits.ByteRate },
		"limit-max-subscriptions":   func() { dst.Limits.MaxSubscriptions = src.Limits.MaxSubscriptions },
		"limit-handshake-rate":      func() { dst.Limits.HandshakeRate = src.Limits.HandshakeRate },
		"limit-handshake-burst":     func() { dst.Limits.HandshakeBurst = src.Limits.HandshakeBurst },
		"limit-connects-per-minute": func() { dst.Limits.ConnectsPerMinute = src.Limits.ConnectsPerMinute },
		"limit-rate-action":         func() { dst.Limits.RateAction = src.Limits.RateAction },
		"limit-max-inflight":        func() { dst.Limits.MaxInflight = src.Limits.MaxInflight },
	} {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
}
