package ca

import (
	"crypto/x509"
	"fmt"
	"time"
)

// leafBackdate is how far NotBefore of a leaf lies before the moment of
// issue, so that a verifier whose clock lags slightly accepts it at once.
const leafBackdate = time.Minute

// leafValidity turns a requested lifetime into NotBefore/NotAfter for a leaf
// issued by parent at now. A lifetime <= 0 means def; one beyond max is
// refused rather than silently shortened, because the caller asked for
// something policy does not allow. NotAfter never outlives the issuer.
func leafValidity(parent *x509.Certificate, now time.Time, lifetime, def, max time.Duration) (notBefore, notAfter time.Time, err error) {
	if lifetime <= 0 {
		lifetime = def
	}
	if lifetime > max {
		return notBefore, notAfter, fmt.Errorf("%w: %s exceeds the maximum of %s", ErrBadLifetime, lifetime, max)
	}
	if now.Before(parent.NotBefore) || !now.Before(parent.NotAfter) {
		return notBefore, notAfter, fmt.Errorf("%w: %q is valid from %s to %s",
			ErrExpired, parent.Subject.CommonName, parent.NotBefore.UTC().Format(time.RFC3339), parent.NotAfter.UTC().Format(time.RFC3339))
	}
	notBefore = now.Add(-leafBackdate)
	notAfter = now.Add(lifetime)
	if notAfter.After(parent.NotAfter) {
		notAfter = parent.NotAfter
	}
	return notBefore, notAfter, nil
}
