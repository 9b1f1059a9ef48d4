package server

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/broker"
)

// LimitsConfig is the "limits" object of the config file: per-device and
// per-source-address limits of the broker (broker.Limits). Zero or absent
// fields set no limit.
type LimitsConfig struct {
	PublishRate       float64 `json:"publish_rate"`        // PUBLISH packets per second per device
	PublishBurst      int     `json:"publish_burst"`       // 0: twice publish_rate
	ByteRate          float64 `json:"byte_rate"`           // payload bytes per second per device
	MaxSubscriptions  int     `json:"max_subscriptions"`   // per session
	HandshakeRate     float64 `json:"handshake_rate"`      // new connections per second per source IP, checked before TLS (so before any identity: never per group)
	HandshakeBurst    int     `json:"handshake_burst"`     // 0: twice handshake_rate
	ConnectsPerMinute int     `json:"connects_per_minute"` // CONNECTs per identity
	RateAction        string  `json:"rate_action"`         // "throttle" (default) or "disconnect" over publish_rate or byte_rate
	MaxInflight       int     `json:"max_inflight"`        // unacknowledged QoS 1/2 messages each way per session
}

// broker returns the limits as the broker takes them.
func (l LimitsConfig) broker() broker.Limits {
	return broker.Limits(l)
}

// validate names each negative limit: a limit is a positive number or 0
// for none.
func (l LimitsConfig) validate() []error {
	var errs []error
	for name, v := range map[string]float64{
		"publish_rate": l.PublishRate, "publish_burst": float64(l.PublishBurst), "byte_rate": l.ByteRate,
		"max_subscriptions": float64(l.MaxSubscriptions), "handshake_rate": l.HandshakeRate,
		"handshake_burst": float64(l.HandshakeBurst), "connects_per_minute": float64(l.ConnectsPerMinute),
		"max_inflight": float64(l.MaxInflight),
	} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("limits.%s %v must be 0 (no limit) or positive", name, v))
		}
	}
	if l.MaxInflight > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("limits.max_inflight %d is over %d (MQTT's Receive Maximum)", l.MaxInflight, math.MaxUint16))
	}
	if l.RateAction != "" && l.RateAction != broker.RateThrottle && l.RateAction != broker.RateDisconnect {
		errs = append(errs, fmt.Errorf("limits.rate_action %q must be %q or %q", l.RateAction, broker.RateThrottle, broker.RateDisconnect))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}
