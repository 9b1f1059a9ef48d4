package agent

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// loadTrust makes the roots of the stored trust bundle, if any, the ones
// the agent verifies the broker and the API with. The bundle was verified
// when it was fetched; the state directory is trusted like the key.
func (r *runner) loadTrust() error {
	if r.st == nil || r.st.TrustBundle == nil {
		return nil
	}
	b, _, err := trustbundle.Parse(r.st.TrustBundle)
	if err != nil {
		return fmt.Errorf("%w: stored trust bundle: %w", ErrState, err)
	}
	var pool *x509.CertPool
	r.trust, pool = r.a.acceptBundle(b)
	r.a.setRoots(pool)
	return nil
}

// checkTrustAtStart fetches the trust bundle once per Run, when the first
// session is up: a device that was off during a whole root rollover
// learns the new root before the old one is retired, without waiting for
// a rotation or trust_refresh. It is best effort: a failure is logged
// (refreshTrust) and the bundle is tried again at the next rotation or
// refresh.
func (r *runner) checkTrustAtStart(ctx context.Context) {
	if r.trustChecked {
		return
	}
	r.trustChecked = true
	if err := r.refreshTrust(ctx); err == nil {
		r.log.Info("checked the trust bundle at start", "sequence", r.trust.Sequence, "roots", len(r.trust.RootCerts))
	}
}

// refreshTrust fetches the trust bundle with the current certificate,
// verifies it against the roots held and the bundle held, and, when it is
// newer, saves it and verifies the broker and the API with its roots from
// the next connection on. A refusal is logged and changes nothing.
func (r *runner) refreshTrust(ctx context.Context) error {
	rctx, cancel := r.requestCtx(ctx)
	raw, err := r.a.mtls().TrustBundle(rctx)
	cancel()
	if err != nil {
		r.log.Warn("could not fetch the trust bundle; keeping the roots held", "err", err)
		return err
	}
	b, err := trustbundle.Verify(raw, r.a.roots(), r.trust, r.now())
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrTrustBundle, err)
		r.log.Error("refused the trust bundle; keeping the roots held", "err", err)
		return err
	}
	if r.trust != nil && b.Sequence == r.trust.Sequence {
		return nil
	}
	b, pool := r.a.acceptBundle(b)
	st := r.st.Clone()
	st.TrustBundle = b.Raw // shared with the bundle, which nobody modifies
	if err := r.store.Save(st); err != nil {
		return err
	}
	r.st, r.trust = st, b
	r.a.setRoots(pool)
	r.log.Info("accepted a trust bundle", "sequence", b.Sequence, "roots", len(b.RootCerts),
		"issued_at", b.IssuedAt)
	return nil
}
