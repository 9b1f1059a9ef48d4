package ca

import (
	"crypto"
	"crypto/x509"
	"time"
)

// Issuer is a device intermediate whose key the CA holds: the issuing
// one, or a trusted older one whose key a rotation kept (KeptKeyFile). It
// signs its own CRL (CRL) and the delegated OCSP signer that answers for
// its certificates (IssueOCSPSigner); only the issuing one issues device
// certificates.
type Issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
	now  func() time.Time
}

// Certificate returns the intermediate. Callers must not modify it.
func (i Issuer) Certificate() *x509.Certificate { return i.cert }

// ID returns the intermediate's issuer ID (IssuerID), the name of its CRL.
func (i Issuer) ID() string { return IssuerID(i.cert) }

// Issuers returns the device intermediates that can sign revocation
// information: the issuing one first, then each trusted one with a kept
// key. A CA from a broker bundle, which holds no CA key, has none.
func (ca *CA) Issuers() []Issuer {
	var out []Issuer
	if ca.deviceKey != nil {
		out = append(out, ca.issuing())
	}
	for i, c := range ca.trusted {
		if k := ca.trustedKey(i); k != nil {
			out = append(out, Issuer{cert: c, key: k, now: ca.now})
		}
	}
	return out
}

// UnkeyedDeviceCAs returns the trusted intermediates whose keys are gone
// (rotated by a build that destroyed them): they have no CRL and no OCSP
// answers. Callers must not modify the certificates.
func (ca *CA) UnkeyedDeviceCAs() []*x509.Certificate {
	var out []*x509.Certificate
	for i, c := range ca.trusted {
		if ca.trustedKey(i) == nil {
			out = append(out, c)
		}
	}
	return out
}

// issuing returns the issuing intermediate as an Issuer; its key is nil
// in a CA from a broker bundle.
func (ca *CA) issuing() Issuer { return Issuer{cert: ca.deviceCA, key: ca.deviceKey, now: ca.now} }

// trustedKey returns the kept key of the i-th trusted intermediate, or
// nil; a CA from a broker bundle keeps none.
func (ca *CA) trustedKey(i int) crypto.Signer {
	if i < len(ca.trustedKeys) {
		return ca.trustedKeys[i]
	}
	return nil
}
