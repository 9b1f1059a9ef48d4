package revocation

import (
	"context"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// Follow subscribes to the registry's change feed before it returns, and
// returns the loop that applies the feed to the caches until ctx ends or
// the registry closes: a certificate change drops that serial's OCSP
// answers and re-issues the CRL at once; a device change drops every OCSP
// answer. The loop also re-issues each CRL halfway to its nextUpdate. Run
// it in a goroutine of its own.
func (r *Responder) Follow(ctx context.Context) (run func()) {
	ctx, cancel := context.WithCancel(ctx)
	changes := r.cfg.Registry.Watch(ctx)
	return func() {
		defer cancel()
		kick := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.reissue(ctx, kick)
		}()
		for ch := range changes {
			if !r.apply(ch) {
				continue
			}
			select {
			case kick <- struct{}{}:
			default: // a re-issue is pending and will see this change
			}
		}
		cancel()
		<-done
	}
}

// apply drops what ch made stale and says whether the CRL changed.
func (r *Responder) apply(ch store.Change) (crlChanged bool) {
	switch ch.Kind {
	case store.ChangeCert:
		r.ocsp.dropSerial(ch.Serial)
		r.crl.changes.Add(1)
		crlChanged = true
	case store.ChangeDevice:
		r.ocsp.dropAll()
	default:
		return false
	}
	r.log.Debug("revocation status changed", "kind", ch.Kind, "device", ch.DeviceID, "serial", ch.Serial)
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(ch)
	}
	return crlChanged
}

// reissue issues a new CRL of every intermediate with a key when kicked
// and when the first of them is halfway to its nextUpdate, so that a fetch
// finds one ready. A CA reloaded in between is met at the next round.
func (r *Responder) reissue(ctx context.Context, kick <-chan struct{}) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
		authority := r.cfg.Authority()
		r.logUnkeyed(authority)
		issuers := authority.Issuers()
		wait := r.cfg.CRLValidity / 2
		failed := false
		for _, iss := range issuers {
			if _, err := r.IssuerCRL(ctx, authority, iss); err != nil {
				r.log.Error("issuing the device CRL failed", "issuer", iss.ID(), "error", err.Error())
				failed = true
			}
		}
		if at := r.crl.nextRefresh(issuers); !at.IsZero() {
			wait = at.Sub(r.clock())
		}
		if failed {
			wait = min(wait, time.Minute)
		}
		t.Reset(max(wait, time.Second))
	}
}
