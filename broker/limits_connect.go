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
// passed the certificate checks (Limits.ConnectsPerMinute, the default or
// the identity's group's: the identity is known by then, unlike the
// source address of a handshake).
type connectLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newConnectLimiter() *connectLimiter {
	return &connectLimiter{m: make(map[string]*rate.Limiter)}
}

// allow takes one CONNECT from id's bucket of perMinute (burst: a
// minute's worth); perMinute 0 allows all. A bucket whose identity's
// limit changed (its group's did, or it moved group) takes the new one.
func (c *connectLimiter) allow(id string, perMinute int) bool {
	if perMinute <= 0 {
		return true
	}
	now := time.Now()
	every := rate.Every(time.Minute / time.Duration(perMinute))
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.m[id]
	if b == nil {
		if len(c.m) >= maxIdentities {
			for k, v := range c.m {
				if v.TokensAt(now) >= float64(v.Burst()) {
					delete(c.m, k)
				}
			}
		}
		b = rate.NewLimiter(every, perMinute)
		c.m[id] = b
	} else if b.Burst() != perMinute {
		b.SetLimitAt(now, every)
		b.SetBurstAt(now, perMinute)
	}
	return b.AllowN(now, 1)
}

// checkConnectRate refuses an admission whose identity is over its
// connect rate; it runs after decide, so only identities that passed the
// certificate checks use a bucket, at their group's rate.
func (h *hook) checkConnectRate(a admission) admission {
	if a.reason == "" && !h.connectRate.allow(a.deviceID, a.limits.ConnectsPerMinute) {
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
