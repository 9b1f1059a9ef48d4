package revocation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// DefaultDelegateLifetime is how long a delegated OCSP signing certificate
// is valid when Config.DelegateLifetime is 0 (at least four times the OCSP
// validity). It is renewed halfway.
const DefaultDelegateLifetime = 24 * time.Hour

// delegates holds a delegated OCSP signer for each intermediate the
// responder answers for, by issuer ID.
type delegates struct {
	mu       sync.Mutex
	by       map[string]*delegate
	lifetime time.Duration
	validity time.Duration
}

// signer returns the delegated certificate and key of iss (delegate.signer).
func (ds *delegates) signer(iss ca.Issuer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	ds.mu.Lock()
	d := ds.by[iss.ID()]
	if d == nil {
		d = &delegate{lifetime: ds.lifetime, validity: ds.validity}
		ds.by[iss.ID()] = d
	}
	ds.mu.Unlock()
	return d.signer(iss, now)
}

// delegate is the responder's delegated OCSP signer for one intermediate:
// a key in memory and a short-lived certificate for it from that
// intermediate (ca.Issuer.IssueOCSPSigner). Every OCSP response is signed with it, so that
// the intermediate's key, perhaps in a token, signs once per renewal
// instead of once per response.
type delegate struct {
	mu       sync.Mutex
	issuer   *x509.Certificate // the intermediate that issued cert
	cert     *x509.Certificate
	key      crypto.Signer
	renewAt  time.Time
	lifetime time.Duration
	validity time.Duration // of the responses it signs
}

// signer returns the delegated certificate and key for the intermediate
// iss, issuing new ones when there are none yet, the intermediate changed,
// or the certificate is halfway through its life.
// A response signed at any moment before the renewal has its nextUpdate
// within the certificate's validity.
func (d *delegate) signer(iss ca.Issuer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert != nil && d.issuer.Equal(iss.Certificate()) && now.Before(d.renewAt) {
		return d.cert, d.key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("delegated OCSP signer: generate key: %w", err)
	}
	cert, err := iss.IssueOCSPSigner(key.Public(), d.lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("delegated OCSP signer: %w", err)
	}
	d.issuer, d.cert, d.key = iss.Certificate(), cert, key
	d.renewAt = now.Add(d.lifetime / 2)
	if last := cert.NotAfter.Add(-d.validity); last.Before(d.renewAt) {
		d.renewAt = last // the intermediate expires first
	}
	return cert, key, nil
}
