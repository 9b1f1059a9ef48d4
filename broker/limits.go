package broker

import (
	"fmt"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"

	"github.com/fleetgate/fleetgate/store"
)

// Limits bound what one device, and one source address, may cost the
// broker. A zero field sets no limit; all are zero by default, because
// one address may front a whole site (NAT, firmware-sim) and fleets differ
// in what normal traffic is.
type Limits struct {
	// PublishRate is PUBLISH packets per second per session, with a burst
	// of PublishBurst (0: twice the rate, at least 1). Exceeding it ends
	// the session: MQTT 5 gets DISCONNECT 0x96 "message rate too high".
	PublishRate  float64
	PublishBurst int
	// ByteRate is payload bytes per second per session, with a burst of
	// twice the rate; a single payload above the burst exceeds it.
	// Exceeding it ends the session like PublishRate.
	ByteRate float64
	// MaxSubscriptions caps a session's subscriptions; a SUBSCRIBE filter
	// beyond it is refused (MQTT 5 SUBACK 0x97 "quota exceeded", 3.1.1
	// 0x80) and the session goes on.
	MaxSubscriptions int
	// HandshakeRate is new connections per second per source IP address,
	// with a burst of HandshakeBurst (0: twice the rate, at least 1). It
	// is checked at accept, before the TLS handshake costs anything; a
	// connection over it is closed at once.
	HandshakeRate  float64
	HandshakeBurst int
	// ConnectsPerMinute caps the CONNECTs of one identity that pass the
	// certificate checks (burst: a minute's worth). One over it is
	// refused: MQTT 5 CONNACK 0x97 "quota exceeded", 3.1.1 return code 3
	// "server unavailable".
	ConnectsPerMinute int
}

// validate reports the first negative field.
func (l Limits) validate() error {
	switch {
	case l.PublishRate < 0, l.PublishBurst < 0, l.ByteRate < 0, l.MaxSubscriptions < 0, l.HandshakeRate < 0, l.HandshakeBurst < 0, l.ConnectsPerMinute < 0:
		return fmt.Errorf("%w: limits must not be negative: %+v", ErrConfig, l)
	}
	return nil
}

// Limit names in logs and metrics.
const (
	limitPublishRate   = "publish_rate"
	limitByteRate      = "byte_rate"
	limitSubscriptions = "subscriptions"
	limitHandshakeRate = "handshake_rate"
	limitConnectRate   = "connect_rate"
)

// newBucket returns a token bucket, or nil for no limit.
func newBucket(perSecond float64, burst int) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(2*perSecond))
	}
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

// over returns l with the non-zero fields of a group's limits in place of
// its own; nil changes nothing.
func (l Limits) over(g *store.Limits) Limits {
	if g == nil {
		return l
	}
	if g.PublishRate > 0 {
		l.PublishRate, l.PublishBurst = g.PublishRate, g.PublishBurst
	}
	if g.ByteRate > 0 {
		l.ByteRate = g.ByteRate
	}
	if g.MaxSubscriptions > 0 {
		l.MaxSubscriptions = g.MaxSubscriptions
	}
	return l
}

// deviceLimiter holds one session's publish buckets (nil: no limit) and
// subscription quota (0: none).
type deviceLimiter struct {
	msgs, bytes *rate.Limiter
	maxSubs     int
}

// setLimits gives s fresh buckets for l: at CONNECT, and when its group's
// limits change.
func (s *session) setLimits(l Limits) {
	s.limiter.Store(&deviceLimiter{msgs: newBucket(l.PublishRate, l.PublishBurst), bytes: newBucket(l.ByteRate, 0), maxSubs: l.MaxSubscriptions})
}

// allow takes one message of n payload bytes and returns the limit it
// exceeds, or "".
func (d *deviceLimiter) allow(now time.Time, n int) string {
	if d.msgs != nil && !d.msgs.AllowN(now, 1) {
		return limitPublishRate
	}
	if d.bytes != nil && n > 0 && !d.bytes.AllowN(now, n) {
		return limitByteRate
	}
	return ""
}

// OnPublish enforces the session's publish and byte rates. A device over
// either loses the message and its connection: MQTT 5 gets DISCONNECT
// 0x96, MQTT 3.1.1 (which has no server DISCONNECT) a closed socket.
// Messages that are not a device's own (the bus, mochi's inline client)
// have no session and pass.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.sessions.get(cl)
	if s == nil {
		return pk, nil
	}
	limit := s.limiter.Load().allow(time.Now(), len(pk.Payload))
	if limit == "" {
		return pk, nil
	}
	s.overLimit.Store(&limit)
	h.metrics.limited.WithLabelValues(limit, "disconnect").Inc()
	h.log.Info("limit exceeded; device disconnected", "device", s.deviceID, "client_id", cl.ID, "limit", limit, "reason", packets.ErrMessageRateTooHigh.Reason, "remote", cl.Net.Remote)
	if s.conn != nil {
		_ = s.conn.SetWriteDeadline(time.Now().Add(dropWriteTimeout))
	}
	if cl.Properties.ProtocolVersion >= 5 {
		_ = h.server.DisconnectClient(cl, packets.ErrMessageRateTooHigh)
	} else {
		cl.Stop(packets.ErrMessageRateTooHigh)
	}
	return pk, packets.ErrRejectPacket
}
