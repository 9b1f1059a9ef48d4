package server

import "github.com/fleetgate/fleetgate/broker"

// LimitsConfig is the "limits" object of the config file: per-device and
// per-source-address limits of the broker (broker.Limits). Zero or absent
// fields set no limit.
type LimitsConfig struct {
	PublishRate       float64 `json:"publish_rate"`        // PUBLISH packets per second per device
	PublishBurst      int     `json:"publish_burst"`       // 0: twice publish_rate
	ByteRate          float64 `json:"byte_rate"`           // payload bytes per second per device
	MaxSubscriptions  int     `json:"max_subscriptions"`   // per session
	HandshakeRate     float64 `json:"handshake_rate"`      // new connections per second per source IP, checked before TLS
	HandshakeBurst    int     `json:"handshake_burst"`     // 0: twice handshake_rate
	ConnectsPerMinute int     `json:"connects_per_minute"` // CONNECTs per identity
}

// broker returns the limits as the broker takes them.
func (l LimitsConfig) broker() broker.Limits {
	return broker.Limits(l)
}
