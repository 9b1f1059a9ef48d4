package attest

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// oidSAN is subjectAltName. EK certificates mark it critical (their subject
// is empty) and put the TPM manufacturer, model and firmware version in a
// directoryName, which Go's parser does not consume, so Go reports the
// extension as unhandled and Verify refuses the certificate.
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// oidTPMManufacturer is tcg-at-tpmManufacturer, present in every EK
// certificate's SAN directoryName.
var oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}

// VerifyEKCertificate parses an EK certificate (DER) and verifies it against
// the TPM manufacturers' root CAs at time now. The EK public key to use is
// the returned certificate's PublicKey. See VerifyEKCertificateChain for
// manufacturers that sign EK certificates with an intermediate CA.
func VerifyEKCertificate(der []byte, roots *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	return VerifyEKCertificateChain(der, roots, nil, now)
}

// VerifyEKCertificateChain is VerifyEKCertificate with intermediate CA
// certificates, which a TPM does not store next to its EK certificate
// (manufacturers publish them; swtpm-localca issues from one).
//
// The critical SAN is accepted only if every name in it is a directoryName
// and one names the TPM manufacturer. Any extended key usage is accepted:
// EK certificates carry tcg-kp-EKCertificate (2.23.133.8.1), unknown to Go.
// Leaves that claim to be a CA are refused.
func VerifyEKCertificateChain(der []byte, roots, intermediates *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	if roots == nil {
		// A nil pool would make Go fall back to the system roots, which
		// vouch for web servers, not TPMs.
		return nil, fmt.Errorf("%w: no manufacturer roots configured", ErrEKUntrusted)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: EK certificate: %w", ErrMalformed, err)
	}
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(oidSAN) {
			return nil, fmt.Errorf("%w: unhandled critical extension %v", ErrEKUntrusted, oid)
		}
		if err := checkTPMSAN(cert); err != nil {
			return nil, err
		}
	}
	cert.UnhandledCriticalExtensions = slices.DeleteFunc(cert.UnhandledCriticalExtensions,
		func(oid asn1.ObjectIdentifier) bool { return oid.Equal(oidSAN) })
	if cert.BasicConstraintsValid && cert.IsCA {
		return nil, fmt.Errorf("%w: EK certificate is a CA", ErrEKUntrusted)
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEKUntrusted, err)
	}
	return cert, nil
}

// checkTPMSAN checks that the SAN holds only directoryNames, one of them
// with the TPM manufacturer attribute.
func checkTPMSAN(cert *x509.Certificate) error {
	var value []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSAN) {
			value = e.Value
		}
	}
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &seq); err != nil || len(rest) != 0 ||
		seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
		return fmt.Errorf("%w: SAN encoding", ErrMalformed)
	}
	found := false
	for rest := seq.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return fmt.Errorf("%w: SAN entry: %w", ErrMalformed, err)
		}
		// directoryName is [4], explicitly tagged because Name is a CHOICE.
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 {
			return fmt.Errorf("%w: critical SAN holds a name other than the TPM's", ErrEKUntrusted)
		}
		var rdns pkix.RDNSequence
		if r, err := asn1.Unmarshal(gn.Bytes, &rdns); err != nil || len(r) != 0 {
			return fmt.Errorf("%w: SAN directoryName", ErrMalformed)
		}
		for _, rdn := range rdns {
			for _, atv := range rdn {
				found = found || atv.Type.Equal(oidTPMManufacturer)
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: critical SAN names no TPM manufacturer", ErrEKUntrusted)
	}
	return nil
}

// EKHash identifies an EK: the lower-case hex SHA-256 of the PKIX
// (SubjectPublicKeyInfo) DER encoding of its public key, as `openssl x509
// -pubkey | openssl pkey -pubin -outform der | sha256sum` prints it. It is
// what factory allow-lists hold, recorded on the production line from the
// EK certificate or the TPM itself.
func EKHash(ekPub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(ekPub)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrEKKey, err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
