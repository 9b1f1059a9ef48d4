package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// parseDeviceCSR reads a device's PEM CSR without judging its signature:
// the caller checks that with attest.VerifyCSR or softwareCSR, so that a
// bad signature is reported as csr_signature rather than bad_request.
func parseDeviceCSR(s string) (*x509.CertificateRequest, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: csr is required (a PEM certificate signing request)", errBadRequest)
	}
	if len(s) > ca.MaxCSRSize {
		return nil, fmt.Errorf("%w: csr of %d bytes, more than %d", errBadRequest, len(s), ca.MaxCSRSize)
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") || strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("%w: csr is not one PEM CERTIFICATE REQUEST block", errBadRequest)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: csr: %v", errBadRequest, err)
	}
	return csr, nil
}

// softwareCSR checks the CSR of a software key (token enrollment and
// rotation without a TPM): ECDSA P-256 or P-384, as TLS 1.3 and our
// broker want, self-signed.
func softwareCSR(csr *x509.CertificateRequest) error {
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || (k.Curve != elliptic.P256() && k.Curve != elliptic.P384()) {
		return fmt.Errorf("%w: csr key must be ECDSA P-256 or P-384", errBadRequest)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("%w: %w", attest.ErrCSRSignature, err)
	}
	return nil
}

// keyHash is the registry's name for a public key: the lower-case hex
// SHA-256 of its SubjectPublicKeyInfo DER (store.Certificate.KeyHash).
func keyHash(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadRequest, err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// issueFor signs a certificate for csr's key naming deviceID, with a serial
// from the registry, and hands the record to record, which must write it
// (in CompleteEnrollment, together with whatever the enrollment consumes).
// Every check on the request must come before: the serial is the first
// thing written.
func (a *API) issueFor(ctx context.Context, deviceID string, csr *x509.CertificateRequest, how store.Attestation, record func(store.Certificate) error) (wire.Issued, error) {
	kh, err := keyHash(csr.PublicKey)
	if err != nil {
		return wire.Issued{}, err
	}
	serial, err := a.db.AllocateSerial(ctx)
	if err != nil {
		return wire.Issued{}, err
	}
	// One CA for the whole request: a reload in between must not pair a
	// certificate with another intermediate's chain.
	authority := a.authority()
	cert, err := authority.IssueDevice(csr, deviceID, serial, a.currentDefaultLifetime())
	if err != nil {
		return wire.Issued{}, err
	}
	rec := store.Certificate{
		Serial:      ca.SerialHex(cert),
		Fingerprint: ca.Fingerprint(cert),
		DeviceID:    deviceID,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Status:      store.CertActive,
		Attestation: how,
		IssuedAt:    a.now().UTC(),
		DER:         cert.Raw,
		KeyHash:     kh,
	}
	if err := record(rec); err != nil {
		return wire.Issued{}, err
	}
	// authority's device CA signed it just now: no need to search for the
	// intermediate that did (a signature check per enrollment).
	return answer(rec, authority.DeviceChainPEM()), nil
}

// issued is the answer for a recorded certificate. The chain is the
// intermediate that signed it, found among those authority trusts: a
// retried rotation may answer with a certificate issued before the
// intermediate was rotated.
func (a *API) issued(authority *ca.CA, rec store.Certificate) wire.Issued {
	chain := authority.DeviceChainPEM()
	if c, err := x509.ParseCertificate(rec.DER); err == nil {
		chain = authority.IssuerChainPEM(c)
	}
	return answer(rec, chain)
}

// answer is the answer for a recorded certificate and the chain of the
// intermediate that signed it.
func answer(rec store.Certificate, chain []byte) wire.Issued {
	leaf := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.DER}))
	return wire.Issued{
		Serial:      rec.Serial,
		Fingerprint: rec.Fingerprint,
		NotBefore:   rec.NotBefore,
		NotAfter:    rec.NotAfter,
		Certificate: leaf,
		Chain:       leaf + string(chain),
	}
}

// deviceActor is who a device's own request acts as in the audit log.
func deviceActor(id, remote string) store.Actor {
	return store.Actor{Name: "device:" + id, Remote: remote}
}
