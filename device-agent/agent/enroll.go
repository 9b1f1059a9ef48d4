package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// ensureCreds installs the stored certificate if it is still valid, and
// enrolls otherwise: on first start, and when the certificate expired while
// the device was off or cut off (TPM devices attest again; software
// devices need a fresh token). Provisioning being unreachable is retried
// with backoff until ctx ends (errStopped).
func (r *runner) ensureCreds(ctx context.Context) error {
	if r.st != nil && r.st.Chain != nil {
		c, err := r.loadCreds(r.st)
		if err != nil {
			return err
		}
		if r.now().Before(c.info.NotAfter) {
			r.install(c)
			return nil
		}
		r.install(nil)
		r.log.Warn("certificate expired; enrolling again", "serial", c.info.Serial, "not_after", c.info.NotAfter,
			"key_source", r.cfg.KeySource)
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return errStopped
		}
		rctx, cancel := r.requestCtx(ctx)
		st, issued, err := r.keys.enroll(rctx, r.a.api(), r.st)
		cancel()
		if err == nil {
			return r.enrolled(st, issued)
		}
		if ctx.Err() != nil {
			return errStopped
		}
		if !retryable(err) {
			err = classify(err)
			r.log.Error("enrollment failed; stopping", "err", err)
			return err
		}
		d := r.backoff(attempt)
		r.log.Warn("provisioning unreachable or busy; retrying enrollment", "err", err, "attempt", attempt, "retry_in", d)
		if !sleep(ctx, d) {
			return errStopped
		}
	}
}

// enrolled saves and installs the result of an enrollment.
func (r *runner) enrolled(st *State, issued wire.Issued) error {
	c, err := r.loadCreds(st)
	if err != nil {
		return err
	}
	if !r.now().Before(c.info.NotAfter) {
		err := fmt.Errorf("%w: now %s, certificate %s valid until %s; set the clock (NTP) and restart",
			ErrClock, r.now().UTC().Format(time.RFC3339), c.info.Serial, c.info.NotAfter.UTC().Format(time.RFC3339))
		r.log.Error("the device clock is wrong; stopping", "err", err)
		return err
	}
	if r.st != nil && st.TrustBundle == nil {
		st.TrustBundle = r.st.TrustBundle // enrolling again keeps the roots learned
	}
	if err := r.store.Save(st); err != nil {
		return err
	}
	r.st = st
	r.install(c)
	// The next provisioning call is a rotation, over the mTLS client and
	// much later: the enrollment connection would only sit idle. Best
	// effort: net/http may return the connection to its idle pool a
	// moment after the reply was read, and then the transport's idle
	// timeout closes it.
	r.a.api().CloseIdleConnections()
	r.log.Info("enrolled", "serial", c.info.Serial, "not_after", c.info.NotAfter, "key_source", st.KeySource,
		"rotate_at", c.rotateAt)
	if h := r.cfg.Hooks.OnEnrolled; h != nil {
		h(c.info)
	}
	return nil
}

// retryable reports whether a failed provisioning call may succeed later
// unchanged: no answer, a server error, a busy server, or a challenge that
// expired while the TPM worked.
func retryable(err error) bool {
	if errors.Is(err, enroll.ErrUnreachable) {
		return true
	}
	var e *enroll.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests ||
		e.Code == wire.CodeInternal || e.Code == wire.CodeChallengeExpired
}

// classify maps a refusal to the agent's sentinel errors.
func classify(err error) error {
	var e *enroll.Error
	switch {
	case !errors.As(err, &e):
		return err
	case e.Code == wire.CodeDeviceNotActive:
		return fmt.Errorf("%w: %w", ErrRevoked, err)
	case e.Code == wire.CodeTokenInvalid, e.Code == wire.CodeTokenExpired, e.Code == wire.CodeTokenReplayed:
		return fmt.Errorf("%w: %w; %w", ErrNeedsEnrollment, err, errNoToken)
	case e.Code == wire.CodeExists:
		return fmt.Errorf("%w: %w; a token re-enrolls a known device only once the registry holds no valid "+
			"certificate for it: an operator has to revoke the old certificate (fleetgate cert revoke) first", ErrNeedsEnrollment, err)
	default:
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
}
