package ca

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1):
// relying parties need not ask about the status of the responder's own
// certificate, which is short-lived instead.
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// ocspSignerBackdate lets relying parties whose clocks lag a little accept
// a freshly issued responder certificate.
const ocspSignerBackdate = 5 * time.Minute

// IssueOCSPSigner issues a delegated OCSP signing certificate for pub
// (RFC 6960 section 4.2.2.2), signed by the issuing device intermediate:
// extended key usage id-kp-OCSPSigning only, the id-pkix-ocsp-nocheck
// extension, not a CA, valid for lifetime from now (and no longer than the
// intermediate). Responses signed with its key are accepted for
// certificates of the intermediate, so that signing one costs no use of
// the intermediate's key, which may be in a token.
func (ca *CA) IssueOCSPSigner(pub crypto.PublicKey, lifetime time.Duration) (*x509.Certificate, error) {
	return ca.issuing().IssueOCSPSigner(pub, lifetime)
}

// IssueOCSPSigner is CA.IssueOCSPSigner for this intermediate: the
// certificate it issues vouches for responses about this intermediate's
// certificates only.
func (i Issuer) IssueOCSPSigner(pub crypto.PublicKey, lifetime time.Duration) (*x509.Certificate, error) {
	if i.key == nil {
		return nil, fmt.Errorf("issue OCSP signing certificate: %w", ErrNoCAKey)
	}
	now := i.now()
	if now.Before(i.cert.NotBefore) || now.After(i.cert.NotAfter) {
		return nil, fmt.Errorf("%w: the device intermediate %s is valid %s to %s", ErrExpired, SerialHex(i.cert), i.cert.NotBefore, i.cert.NotAfter)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fleetgate OCSP responder " + now.UTC().Format("2006-01-02 15:04:05Z"), Organization: []string{organization}},
		NotBefore:             now.Add(-ocspSignerBackdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	return sign(tmpl, i.cert, pub, i.key)
}
