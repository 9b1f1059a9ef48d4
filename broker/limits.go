package broker

import (
	"fmt"
	"math"
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
	// of PublishBurst (0: twice the rate, at least 1). What exceeding it
	// does is RateAction's choice.
	PublishRate  float64
	PublishBurst int
	// ByteRate is payload bytes per second per session, with a burst of
	// twice the rate; a single payload above the burst exceeds it, and
	// exceeding it is handled like PublishRate.
	ByteRate float64
	// MaxSubscriptions caps a session's subscriptions; a SUBSCRIBE filter
	// beyond it is refused (MQTT 5 SUBACK 0x97 "quota exceeded", 3.1.1
	// 0x80) and the session goes on.
	MaxSubscriptions int
	// HandshakeRate is new connections per second per source IP address,
	// with a burst of HandshakeBurst (0: twice the rate, at least 1). It
	// is checked at accept, before the TLS handshake costs anything; a
	// connection over it is closed at once. It cannot be set per group:
	// no identity, and so no group, exists before the handshake.
	HandshakeRate  float64
	HandshakeBurst int
	// ConnectsPerMinute caps the CONNECTs of one identity that pass the
	// certificate checks (burst: a minute's worth; a group may set its
	// own, since the identity is known by then). One over it is
	// refused: MQTT 5 CONNACK 0x97 "quota exceeded", 3.1.1 return code 3
	// "server unavailable".
	ConnectsPerMinute int
	// RateAction is what a session over PublishRate or ByteRate gets:
	// RateThrottle ("" too) pauses reading its connection until its
	// buckets allow the message, and ends it only when one message would
	// have to wait longer than maxThrottleWait; RateDisconnect ends it at
	// once. Ending is MQTT 5 DISCONNECT 0x96 "message rate too high",
	// MQTT 3.1.1 a closed socket.
	RateAction string
	// MaxInflight caps the unacknowledged QoS 1 and 2 messages in each
	// direction of a session: the broker sends at most this many before
	// the device acknowledges, and tells an MQTT 5 device this Receive
	// Maximum in CONNACK (mochi disconnects one that exceeds it with
	// 0x93). It applies from the next CONNECT.
	MaxInflight int
}

// RateAction values.
const (
	RateThrottle   = "throttle"
	RateDisconnect = "disconnect"
)

// validate reports the first negative field.
func (l Limits) validate() error {
	switch {
	case l.PublishRate < 0, l.PublishBurst < 0, l.ByteRate < 0, l.MaxSubscriptions < 0, l.HandshakeRate < 0, l.HandshakeBurst < 0, l.ConnectsPerMinute < 0, l.MaxInflight < 0:
		return fmt.Errorf("%w: limits must not be negative: %+v", ErrConfig, l)
	case l.MaxInflight > math.MaxUint16:
		return fmt.Errorf("%w: limits: max inflight %d is over %d (MQTT's Receive Maximum)", ErrConfig, l.MaxInflight, math.MaxUint16)
	case l.RateAction != "" && l.RateAction != RateThrottle && l.RateAction != RateDisconnect:
		return fmt.Errorf("%w: limits: rate action %q is neither %q nor %q", ErrConfig, l.RateAction, RateThrottle, RateDisconnect)
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
	if g.ConnectsPerMinute > 0 {
		l.ConnectsPerMinute = g.ConnectsPerMinute
	}
	if g.RateAction != "" {
		l.RateAction = g.RateAction
	}
	if g.MaxInflight > 0 {
		l.MaxInflight = g.MaxInflight
	}
	return l
}

// deviceLimiter holds one session's publish buckets (nil: no limit),
// what exceeding them does, and its subscription and inflight quotas (0:
// none).
type deviceLimiter struct {
	msgs, bytes *rate.Limiter
	disconnect  bool // RateDisconnect: no throttling
	maxSubs     int
	maxInflight int
	episode     throttleEpisode // limits_throttle.go
}

// setLimits gives s fresh buckets for l: at CONNECT, and when its group's
// limits change.
func (s *session) setLimits(l Limits) {
	s.limiter.Store(&deviceLimiter{
		msgs: newBucket(l.PublishRate, l.PublishBurst), bytes: newBucket(l.ByteRate, 0),
		disconnect: l.RateAction == RateDisconnect, maxSubs: l.MaxSubscriptions, maxInflight: l.MaxInflight,
	})
}

// OnPublish enforces the session's publish and byte rates: a message
// within them passes; one over them waits for its tokens (throttle,
// limits_throttle.go) or, when that is not allowed or would take too
// long, is dropped and ends the connection: MQTT 5 gets DISCONNECT 0x96,
// MQTT 3.1.1 (which has no server DISCONNECT) a closed socket. Messages
// that are not a device's own (the bus, mochi's inline client) have no
// session and pass.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.sessions.get(cl)
	if s == nil {
		return pk, nil
	}
	d := s.limiter.Load()
	wait, limit, over := d.take(time.Now(), len(pk.Payload), h.throttleWait)
	if !over {
		if wait == 0 {
			d.calm()
			return pk, nil
		}
		h.throttle(s, d, limit, wait)
		// mochi asked the ACL before this hook: a session dropped or
		// narrowed during the wait must not publish what it was waiting with.
		if s.dropped.Load() || s.replaced.Load() || h.ctx.Err() != nil || !s.rights().canPublish(pk.TopicName) {
			h.log.Info("throttled message dropped: the session ended or lost the right while it waited", "device", s.deviceID, "client_id", cl.ID, "topic", pk.TopicName)
			return pk, packets.ErrRejectPacket
		}
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
