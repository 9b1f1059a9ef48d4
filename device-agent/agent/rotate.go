package agent

import (
	"context"
	"time"
)

// rotateDue is when the current certificate should be rotated: its
// scheduled time, or later if a failed attempt set a retry time.
func (r *runner) rotateDue() time.Time {
	due := r.a.cur.Load().rotateAt
	if r.rotRetryAt.After(due) {
		return r.rotRetryAt
	}
	return due
}

// untilCheck is how long the session loop may sleep before it must look
// at the clock: until rotation, expiry, or ScheduleCheck, whichever comes
// first.
func (r *runner) untilCheck() time.Duration {
	now := r.now()
	d := r.cfg.ScheduleCheck.Duration
	d = min(d, r.rotateDue().Sub(now), r.a.cur.Load().info.NotAfter.Sub(now))
	return max(d, 0)
}

// rotate runs a scheduled rotation; it reports whether the session must
// reconnect with the new certificate. A failure is retried after backoff,
// until the certificate expires.
func (s *sessionState) rotate(ctx context.Context) bool {
	r := s.r
	if err := s.rotateNow(ctx); err != nil {
		if ctx.Err() != nil {
			return false
		}
		r.rotFails++
		d := r.backoff(r.rotFails)
		r.rotRetryAt = r.now().Add(d)
		r.log.Warn("rotation failed; retrying", "err", err, "attempt", r.rotFails, "retry_in", d,
			"not_after", r.a.cur.Load().info.NotAfter)
		return false
	}
	r.rotFails, r.rotRetryAt = 0, time.Time{}
	return true
}

// rotateNow rotates and, if the session is up, ends it so that the next
// connection presents the new certificate. Queued messages stay in the
// outbox and go out on that connection.
func (s *sessionState) rotateNow(ctx context.Context) error {
	r := s.r
	old := r.a.cur.Load()
	c, err := r.rotate(ctx)
	if err != nil {
		return err
	}
	// A rotation is when a device learns new roots of a root rollover:
	// fetched with the new certificate, so a refusal does not undo it.
	_ = r.refreshTrust(ctx)
	if h := r.cfg.Hooks.OnRotated; h != nil {
		h(old.info, c.info)
	}
	s.leave()
	return nil
}

// rotate gets a certificate for a new key. The key is saved (as pending)
// before the server is asked, so a rotation whose reply was lost, or that
// a power cut interrupted, is repeated with the same key and the server
// answers with the certificate it already issued for it.
func (r *runner) rotate(ctx context.Context) (*creds, error) {
	cur := r.a.cur.Load()
	r.log.Info("rotating", "serial", cur.info.Serial, "not_after", cur.info.NotAfter)
	st := r.st.Clone()
	if st.Pending == nil || st.Pending.For != cur.info.Serial {
		key, err := r.keys.newKey()
		if err != nil {
			return nil, err
		}
		st.Pending = &Pending{Key: key, For: cur.info.Serial, Created: r.now()}
		if err := r.store.Save(st); err != nil {
			return nil, err
		}
		r.st = st
	} else {
		r.log.Info("resuming a rotation with the saved key", "serial", cur.info.Serial, "key_created", st.Pending.Created)
	}
	rctx, cancel := r.requestCtx(ctx)
	issued, err := r.keys.rotate(rctx, r.a.mtls(), st, st.Pending.Key)
	cancel()
	if err != nil {
		return nil, err
	}
	next := st.Clone()
	next.Key, next.Chain, next.Pending = st.Pending.Key, []byte(issued.Chain), nil
	c, err := r.loadCreds(next)
	if err != nil {
		return nil, err
	}
	if err := r.store.Save(next); err != nil {
		return nil, err
	}
	r.st = next
	r.install(c)
	// Kept-alive connections still present the old certificate.
	r.a.mtls().CloseIdleConnections()
	r.log.Info("rotated", "old_serial", cur.info.Serial, "serial", c.info.Serial, "not_after", c.info.NotAfter,
		"rotate_at", c.rotateAt)
	return c, nil
}
