package ca

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// DefaultCRLValidity is how long a published CRL stays current
// (NextUpdate - ThisUpdate). Relying parties fetch a new one before then.
const DefaultCRLValidity = 24 * time.Hour

// RevokedCert is one entry of a device CRL.
type RevokedCert struct {
	Serial    *big.Int
	RevokedAt time.Time
	// Reason is an RFC 5280 CRLReason code (x509: 0 unspecified, 1
	// keyCompromise, ...); 0 leaves the entry without a reason.
	Reason int
}

// DeviceCRL signs a DER X.509 CRL with the device-issuing intermediate,
// listing the revoked device certificates, for relying parties other than
// the broker (which reads revocations from the registry itself). number
// must grow with every CRL the caller publishes.
func (ca *CA) DeviceCRL(revoked []RevokedCert, number *big.Int, validity time.Duration) ([]byte, error) {
	return ca.issuing().CRL(revoked, number, validity)
}

// CRL signs a DER X.509 CRL with the intermediate, listing revoked, which
// should be the revoked certificates it issued. number must grow with
// every CRL the caller publishes for this intermediate.
func (i Issuer) CRL(revoked []RevokedCert, number *big.Int, validity time.Duration) ([]byte, error) {
	if i.key == nil {
		return nil, fmt.Errorf("sign device CRL: %w", ErrNoCAKey)
	}
	if validity <= 0 {
		validity = DefaultCRLValidity
	}
	now := i.now()
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt, ReasonCode: r.Reason})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: entries,
	}, i.cert, i.key)
	if err != nil {
		return nil, fmt.Errorf("sign device CRL: %w", err)
	}
	return der, nil
}
