package broker

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxSources bounds the per-address buckets kept; beyond it, buckets that
// have refilled (their address went quiet) are forgotten.
const maxSources = 10000

// sourceLimiter is the per-source-address bucket of new connections
// (Limits.HandshakeRate), checked at accept before the TLS handshake.
type sourceLimiter struct {
	perSecond float64
	burst     int
	mu        sync.Mutex
	m         map[string]*rate.Limiter
}

// newSourceLimiter returns the limiter for l, or nil for no limit.
func newSourceLimiter(l Limits) *sourceLimiter {
	b := newBucket(l.HandshakeRate, l.HandshakeBurst)
	if b == nil {
		return nil
	}
	return &sourceLimiter{perSecond: l.HandshakeRate, burst: b.Burst(), m: make(map[string]*rate.Limiter)}
}

// allow takes one connection from addr's bucket. A nil limiter allows all.
func (s *sourceLimiter) allow(addr net.Addr) bool {
	if s == nil {
		return true
	}
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok {
		host = ta.IP.String()
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[host]
	if b == nil {
		if len(s.m) >= maxSources {
			s.prune(now)
		}
		b = rate.NewLimiter(rate.Limit(s.perSecond), s.burst)
		s.m[host] = b
	}
	return b.AllowN(now, 1)
}

// prune forgets the buckets that are full again: their address has been
// quiet long enough that a fresh bucket is the same.
func (s *sourceLimiter) prune(now time.Time) {
	for host, b := range s.m {
		if b.TokensAt(now) >= float64(s.burst) {
			delete(s.m, host)
		}
	}
}

// refuseSource closes a connection over its address's handshake rate
// before any TLS work, and counts it.
func (l *listener) refuseSource(raw net.Conn) {
	l.metrics.limited.WithLabelValues(limitHandshakeRate, "refuse").Inc()
	l.log.Debug("limit exceeded; connection refused before the handshake", "remote", raw.RemoteAddr().String(), "limit", limitHandshakeRate)
	_ = raw.Close()
}
