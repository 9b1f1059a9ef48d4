package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// quiesce is how long a DISCONNECT may take to leave.
const quiesce = 250 // ms

// session keeps the MQTT session up with the current certificate and
// rotates it on schedule, until ctx ends (errStopped), the broker refuses
// the device (ErrRevoked), or the certificate expires (errExpired).
func (r *runner) session(ctx context.Context) error {
	lost := make(chan error, 1)
	s := &sessionState{r: r, client: r.newClient(lost)}
	defer s.close()

	connectT := time.NewTimer(0)
	defer connectT.Stop()
	checkT := time.NewTimer(r.untilCheck())
	defer checkT.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return errStopped

		case <-connectT.C:
			if s.up {
				continue
			}
			if r.expired() {
				return errExpired
			}
			err := s.connect(ctx)
			switch {
			case err == nil:
			case ctx.Err() != nil:
			case errors.Is(err, errRefusedByBroker):
				err = fmt.Errorf("%w: %w", ErrRevoked, err)
				r.log.Error("the broker refused the device; stopping without reconnecting (revoked or suspended?)",
					"err", err, "serial", r.a.cur.Load().info.Serial)
				return err
			default:
				s.level++
				d := r.backoff(s.level)
				r.log.Warn("broker unreachable; retrying", "err", err, "attempt", s.tries, "retry_in", d)
				connectT.Reset(d)
			}

		case err := <-lost:
			if !s.up || s.client.IsConnectionOpen() {
				continue // a loss of a connection already replaced
			}
			s.down(err)
			s.level++
			d := r.backoff(s.level)
			r.log.Warn("connection lost; reconnecting", "err", err, "retry_in", d)
			connectT.Reset(d)

		case <-checkT.C:
			if r.expired() {
				r.log.Warn("certificate expired before it could be rotated")
				s.shutdown()
				return errExpired
			}
			if !r.now().Before(r.rotateDue()) {
				if s.rotate(ctx) {
					connectT.Reset(0)
				}
			}
			checkT.Reset(r.untilCheck())

		case done := <-r.a.rotateReq:
			r.rotRetryAt = time.Time{}
			err := s.rotateNow(ctx)
			if err == nil {
				connectT.Reset(0)
			}
			done <- err
			checkT.Reset(r.untilCheck())
		}
	}
}

// sessionState is the paho client of a session and whether it is up.
type sessionState struct {
	r      *runner
	client mqtt.Client
	up     bool
	tries  int // attempts since the last established session
	level  int // backoff exponent: failures since the last stable session
	since  time.Time
	flush  *flusher
}

// connect makes one attempt; on success the outbox starts flowing.
func (s *sessionState) connect(ctx context.Context) error {
	r := s.r
	s.tries++
	r.log.Debug("connecting", "broker", r.cfg.Broker, "attempt", s.tries)
	if h := r.cfg.Hooks.OnConnectAttempt; h != nil {
		h(s.tries)
	}
	if err := r.connect(ctx, s.client); err != nil {
		if h := r.cfg.Hooks.OnDisconnected; h != nil && ctx.Err() == nil {
			h(err)
		}
		return err
	}
	s.up, s.since = true, time.Now()
	r.a.connected.Store(true)
	s.flush = r.a.out.start(s.client, r.cfg.MaxInflight)
	serial := ""
	if c := r.a.served.Load(); c != nil {
		serial = c.info.Serial
	}
	r.log.Info("connected", "broker", r.cfg.Broker, "serial", serial, "attempts", s.tries)
	s.tries = 0
	if h := r.cfg.Hooks.OnConnected; h != nil {
		h(serial)
	}
	return nil
}

// down records the end of the session: the outbox keeps what the broker
// did not acknowledge.
func (s *sessionState) down(err error) {
	s.flush.stop()
	s.flush = nil
	s.up = false
	s.r.a.connected.Store(false)
	// Only a session that lasted resets the backoff: a broker that
	// accepts and drops at once must not get a reconnect every second.
	if time.Since(s.since) > s.r.cfg.BackoffMax.Duration {
		s.level = 0
	}
	if h := s.r.cfg.Hooks.OnDisconnected; h != nil {
		h(err)
	}
}

// leave ends the session with a DISCONNECT, so the broker does not
// publish the Will.
func (s *sessionState) leave() {
	if !s.up {
		return
	}
	s.flush.stop()
	s.flush = nil
	s.client.Disconnect(quiesce)
	s.up = false
	s.r.a.connected.Store(false)
	if h := s.r.cfg.Hooks.OnDisconnected; h != nil {
		h(nil)
	}
}

// shutdown is the clean stop: wait a little for queued messages, say
// "offline" (a DISCONNECT suppresses the Will), disconnect.
func (s *sessionState) shutdown() {
	if !s.up {
		return
	}
	if !s.r.a.out.waitEmpty(2 * time.Second) {
		s.r.log.Warn("stopping with unacknowledged messages", "queued", s.r.a.out.len())
	}
	s.flush.stop()
	s.flush = nil
	tok := s.client.Publish(s.r.a.topic(s.r.cfg.StatusTopic), 1, true, statusOffline)
	tok.WaitTimeout(2 * time.Second)
	s.client.Disconnect(quiesce)
	s.up = false
	s.r.a.connected.Store(false)
	s.r.log.Info("disconnected: stopping")
	if h := s.r.cfg.Hooks.OnDisconnected; h != nil {
		h(nil)
	}
}

// close releases the client whatever state it is in.
func (s *sessionState) close() {
	if s.up {
		s.leave()
	}
}
