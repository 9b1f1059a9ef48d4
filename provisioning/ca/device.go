package ca

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/fleetgate/fleetgate/identity"
)

// Device certificate lifetimes.
const (
	// DefaultDeviceLifetime applies when IssueDevice is given a lifetime <= 0.
	// Short-lived certificates limit what a stolen key is worth; the agent
	// rotates well before expiry.
	DefaultDeviceLifetime = 30 * 24 * time.Hour
	// MaxDeviceLifetime is the longest lifetime IssueDevice accepts (the
	// CA/Browser Forum's 397 days, a bound verifiers widely expect).
	MaxDeviceLifetime = 397 * 24 * time.Hour
)

// IssueDevice signs a device certificate for the public key in csr.
//
// The identity comes from deviceID (validated with identity.ValidateID;
// errors wrap both ErrBadIdentity and identity.ErrInvalidID), never from the
// CSR: its subject, SANs and requested extensions are all ignored. The
// certificate carries CN = deviceID (for people), exactly one URI SAN
// identity.URI(deviceID), clientAuth as its only extended key usage, and is
// not a CA. It is valid from one minute before now for lifetime (<= 0 means
// DefaultDeviceLifetime; above MaxDeviceLifetime is ErrBadLifetime), cut
// short at the device CA's expiry. With a public URL (WithPublicURL) it
// also names where its revocation status is published. serial comes from the registry and must
// be positive and at most 20 octets (ErrBadSerial).
//
// The CSR's key and signature are checked again (ErrBadCSR), because a
// caller may hand in a CSR that did not come through ParseCSR.
func (ca *CA) IssueDevice(csr *x509.CertificateRequest, deviceID string, serial *big.Int, lifetime time.Duration) (*x509.Certificate, error) {
	if csr == nil {
		return nil, fmt.Errorf("%w: missing", ErrBadCSR)
	}
	if err := checkCSR(csr); err != nil {
		return nil, err
	}
	uri, err := identity.URI(deviceID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadIdentity, err)
	}
	if err := checkSerial(serial); err != nil {
		return nil, err
	}
	notBefore, notAfter, err := leafValidity(ca.deviceCA, ca.now(), lifetime, DefaultDeviceLifetime, MaxDeviceLifetime)
	if err != nil {
		return nil, err
	}
	tmpl := clientTemplate(deviceID, uri, notBefore, notAfter)
	// A copy, so that a caller reusing its big.Int cannot change ours.
	tmpl.SerialNumber = new(big.Int).Set(serial)
	ca.addRevocationURLs(tmpl)
	return sign(tmpl, ca.deviceCA, csr.PublicKey, ca.deviceKey)
}
