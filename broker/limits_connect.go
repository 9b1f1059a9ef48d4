package broker

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"
)

// reasonConnectRate: the identity connected more often than
// Limits.ConnectsPerMinute allows.
const reasonConnectRate = "connect_rate"

// maxIdentities bounds the per-identity connect buckets kept; beyond it,
// buckets that have refilled are forgotten.
const maxIdentities = 100000

// connectLimiter is the per-identity bucket of CONNECT attempts that
// passed the certificate checks (Limits.ConnectsPerMinute).
type connectLimiter struct {
	perMinute int
	mu        sync.Mutex
	m         map[string]*rate.Limiter
}

// newConnectLimiter returns the limiter for l, or nil for no limit.
func newConnectLimiter(l Limits) *connectLimiter {
	if l.ConnectsPerMinute <= 0 {
		return nil
	}
	return &connectLimiter{perMinute: l.ConnectsPerMinute, m: make(map[string]*rate.Limiter)}
}

// allow takes one CONNECT from id's bucket (burst: a minute's worth). A
// nil limiter allows all.
func (c *connectLimiter) allow(id string) bool {
	if c == nil {
		return true
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.m[id]
	if b == nil {
		if len(c.m) >= maxIdentities {
			for k, v := range c.m {
				if v.TokensAt(now) >= float64(c.perMinute) {
					delete(c.m, k)
				}
			}
		}
		b = rate.NewLimiter(rate.Every(time.Minute/time.Duration(c.perMinute)), c.perMinute)
		c.m[id] = b
	}
	return b.AllowN(now, 1)
}

// checkConnectRate refuses an admission whose identity is over its
// connect rate; it runs after decide, so only identities that passed the
// certificate checks use a bucket.
func (h *hook) checkConnectRate(a admission) admission {
	if a.reason == "" && !h.connectRate.allow(a.deviceID) {
		a.reason = reasonConnectRate
		h.metrics.limited.WithLabelValues(limitConnectRate, "refuse").Inc()
	}
	return a
}

// refusalCode is the CONNACK code of a refusal: "quota exceeded" (MQTT
// 3.1.1: "server unavailable", try later) for the connect rate, "not
// authorized" for everything else.
func refusalCode(cl *mqtt.Client, reason string) packets.Code {
	v5 := cl.Properties.ProtocolVersion >= 5
	switch {
	case reason == reasonConnectRate && v5:
		return packets.ErrQuotaExceeded
	case reason == reasonConnectRate:
		return packets.Err3ServerUnavailable
	case v5:
		return packets.ErrNotAuthorized
	}
	return packets.Err3NotAuthorized
}
