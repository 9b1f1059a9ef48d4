package agent

import (
	"context"
	"crypto/x509"
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
//
// Each attempt goes to r.brokers[r.next]: the broker of the last session
// until an attempt fails there, then the next one of the list, in turn.
// A lost session moves to the next broker at once (within a random part
// of BackoffMin rather than after a backoff), so a dead host costs no
// backoff; that shortcut is taken once, and again only after a session
// that lasted, so brokers that accept and drop get no reconnect storm.
func (r *runner) session(ctx context.Context) error {
	s := &sessionState{r: r, quick: true}
	defer s.close()

	connectT := time.NewTimer(0)
	defer connectT.Stop()
	checkT := time.NewTimer(r.untilCheck())
	defer checkT.Stop()
	trustT := time.NewTimer(r.cfg.TrustRefresh.Duration)
	defer trustT.Stop()
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
				r.checkTrustAtStart(ctx)
			case ctx.Err() != nil:
			case errors.Is(err, errRefusedByBroker):
				err = fmt.Errorf("%w: %w", ErrRevoked, err)
				r.log.Error("the broker refused the device; stopping without reconnecting (revoked or suspended?)",
					"err", err, "serial", r.a.cur.Load().info.Serial)
				return err
			default:
				failed := s.addr
				r.nextBroker()
				s.level++
				d := r.backoff(s.level)
				r.log.Warn("broker unreachable; retrying", "broker", failed, "err", err, "attempt", s.tries,
					"next", r.brokers[r.next], "retry_in", d)
				connectT.Reset(d)
			}

		case err := <-s.lost:
			if !s.up || s.client.IsConnectionOpen() {
				continue // a loss of a connection already replaced
			}
			s.down(err)
			r.nextBroker()
			var d time.Duration
			if s.quick && len(r.brokers) > 1 {
				s.quick = false
				d = time.Duration(r.cfg.Rand() * float64(r.cfg.BackoffMin.Duration))
			} else {
				s.level++
				d = r.backoff(s.level)
			}
			r.log.Warn("connection lost; reconnecting", "broker", s.addr, "err", err, "next", r.brokers[r.next],
				"retry_in", d)
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

		case <-trustT.C:
			_ = r.refreshTrust(ctx) // logged; tried again at the next refresh or rotation
			trustT.Reset(r.cfg.TrustRefresh.Duration)

		case done := <-r.a.trustReq:
			done <- r.refreshTrust(ctx)

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

// sessionState is the paho client of a session, the broker it is for,
// and whether it is up.
type sessionState struct {
	r      *runner
	client mqtt.Client    // nil before the first attempt
	lost   <-chan error   // client's connection losses
	addr   string         // client's broker
	roots  *x509.CertPool // what client verifies the broker with
	up     bool
	tries  int  // attempts since the last established session
	level  int  // backoff exponent: failures since the last stable session
	quick  bool // the next loss may move to the next broker without backoff
	since  time.Time
	flush  *flusher
}

// connect makes one attempt, on the broker r.next names; on success the
// outbox starts flowing. A client serves one broker: moving to another
// builds a new one (queued messages are the outbox's, not the client's,
// so they move along).
func (s *sessionState) connect(ctx context.Context) error {
	r := s.r
	// A client also serves one set of roots: a trust bundle that brought
	// new ones builds a new client.
	if addr := r.brokers[r.next]; s.client == nil || s.addr != addr || s.roots != r.a.roots() {
		s.roots = r.a.roots()
		s.client, s.lost = r.newClient(addr, s.roots)
		s.addr = addr
	}
	s.tries++
	r.log.Debug("connecting", "broker", s.addr, "attempt", s.tries)
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
	r.a.setBroker(s.addr)
	s.flush = r.a.out.start(s.client, r.cfg.MaxInflight)
	serial := ""
	if c := r.a.served.Load(); c != nil {
		serial = c.info.Serial
	}
	r.log.Info("connected", "broker", s.addr, "serial", serial, "attempts", s.tries)
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
	s.r.a.setBroker("")
	// Only a session that lasted resets the backoff (and allows a quick
	// move to the next broker again): a broker that accepts and drops at
	// once must not get a reconnect every second.
	if time.Since(s.since) > s.r.cfg.BackoffMax.Duration {
		s.level, s.quick = 0, true
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
	s.r.a.setBroker("")
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
	s.r.a.setBroker("")
	s.r.log.Info("disconnected: stopping", "broker", s.addr)
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
