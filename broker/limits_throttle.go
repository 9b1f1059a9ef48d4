package broker

import (
	"time"

	"golang.org/x/time/rate"
)

// Throttling a session over its publish or byte rate (RateThrottle) costs
// the broker nothing: mochi reads each client's packets on that client's
// own goroutine and calls OnPublish from it, without any server-wide lock,
// so waiting there for the bucket's tokens pauses only this connection's
// reads. Its unread bytes fill the socket buffers, TCP flow control stops
// the sender, and its writes block: the device is slowed to its rate
// instead of being disconnected, reconnecting and flooding again, and the
// broker never reads what it could not accept. Deliveries to the session
// go on meanwhile (mochi writes on another goroutine).

// maxThrottleWait bounds the wait for one message. A message that would
// need longer (a payload far above the byte rate, or a rate below one
// message per maxThrottleWait) ends the session as RateDisconnect does:
// a longer pause would hold the connection idle for nothing.
const maxThrottleWait = 2 * time.Second

// throttleLogEvery bounds the "device throttled" log lines of one session:
// a device publishing just at its rate enters and leaves throttling with
// every message, and one line per entry would flood the log.
const throttleLogEvery = time.Minute

// throttleEpisode tracks one session's throttling, for the log. Only
// OnPublish, on the client's own goroutine, touches it.
type throttleEpisode struct {
	active  bool      // the last message had to wait
	logged  time.Time // the last "device throttled" line
	delayed int       // messages delayed since that line
}

// take takes one message of n payload bytes from the buckets. It returns
// how long the message must wait and for which limit, or over (and the
// limit) when it may not pass at all: the session's action is
// RateDisconnect, the message exceeds a bucket's burst, or the wait would
// exceed maxWait. Tokens of a message that does not pass are
// given back.
func (d *deviceLimiter) take(now time.Time, n int, maxWait time.Duration) (wait time.Duration, limit string, over bool) {
	var taken []*rate.Reservation
	for _, b := range []struct {
		bucket *rate.Limiter
		n      int
		limit  string
	}{{d.msgs, 1, limitPublishRate}, {d.bytes, n, limitByteRate}} {
		if b.bucket == nil || b.n == 0 {
			continue
		}
		r := b.bucket.ReserveN(now, b.n)
		delay := r.DelayFrom(now)
		if !r.OK() || delay > 0 && (d.disconnect || delay > maxWait) {
			for _, t := range append(taken, r) {
				t.CancelAt(now)
			}
			return 0, b.limit, true
		}
		taken = append(taken, r)
		if delay > wait {
			wait, limit = delay, b.limit
		}
	}
	return wait, limit, false
}

// throttle holds the client's read goroutine until its message's tokens
// are due, or the connection closes (a revoked device stops at once). The
// connection's deadline (mochi sets 1.5 keepalive periods before each
// read) is moved past the wait, so that neither the pause nor the
// deliveries written meanwhile run into it: the device is not silent, the
// broker is not reading.
func (h *hook) throttle(s *session, d *deviceLimiter, limit string, wait time.Duration) {
	h.metrics.limited.WithLabelValues(limit, "throttle").Inc()
	ep := &d.episode
	ep.delayed++
	if !ep.active && time.Since(ep.logged) >= throttleLogEvery {
		h.log.Info("limit exceeded; device throttled", "device", s.deviceID, "client_id", s.cl.ID, "limit", limit,
			"wait_ms", wait.Milliseconds(), "delayed", ep.delayed, "remote", s.cl.Net.Remote)
		ep.logged, ep.delayed = time.Now(), 0
	}
	ep.active = true
	if ka := s.cl.State.Keepalive; ka > 0 && s.cl.Net.Conn != nil && !s.dropped.Load() {
		_ = s.cl.Net.Conn.SetDeadline(time.Now().Add(wait + time.Duration(ka)*1500*time.Millisecond))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.gone:
	case <-h.ctx.Done():
	}
}

// calm ends a throttling episode: a message passed without waiting.
func (d *deviceLimiter) calm() { d.episode.active = false }
