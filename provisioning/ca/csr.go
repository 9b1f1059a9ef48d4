package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
)

// MaxCSRSize is the largest CSR ParseCSR reads. A real CSR is a few hundred
// bytes (a few KiB with RSA 4096); anything near this is not one.
const MaxCSRSize = 64 << 10

// RSA modulus sizes accepted in a CSR. Below 2048 is breakable; above 4096
// costs every handshake for no gain.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// ParseCSR reads a certificate signing request given as PEM ("CERTIFICATE
// REQUEST" or "NEW CERTIFICATE REQUEST") or DER, and checks its
// self-signature and its key: ECDSA P-256 or P-384, or RSA 2048 to 4096
// bits. Every error wraps ErrBadCSR and says what was wrong. Only the CSR's
// public key is ever used for a certificate; its subject, SANs and requested
// extensions are read here but ignored by IssueDevice.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCSR)
	}
	if len(data) > MaxCSRSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadCSR, len(data), MaxCSRSize)
	}
	der := data
	if block, rest := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("%w: PEM block type %q is not a certificate request", ErrBadCSR, block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("%w: trailing data after the PEM block", ErrBadCSR)
		}
		der = block.Bytes
	}
	// Reading the outer element first tells apart input that is not DER at
	// all (text, a truncated PEM, garbage) from DER followed by extra bytes,
	// which x509 would lump together.
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil || outer.Class != asn1.ClassUniversal || outer.Tag != asn1.TagSequence {
		return nil, fmt.Errorf("%w: not PEM or DER", ErrBadCSR)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data (%d bytes after the DER)", ErrBadCSR, len(rest))
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed: %v", ErrBadCSR, err)
	}
	if err := checkCSR(csr); err != nil {
		return nil, err
	}
	return csr, nil
}

// checkCSR checks the key and the self-signature of a parsed CSR. The key
// comes first so that a refused key type is reported as such rather than as
// whatever its signature check says.
func checkCSR(csr *x509.CertificateRequest) error {
	if err := checkKey(csr.PublicKey); err != nil {
		return err
	}
	switch csr.SignatureAlgorithm {
	case x509.UnknownSignatureAlgorithm, x509.MD2WithRSA, x509.MD5WithRSA,
		x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1, x509.DSAWithSHA256:
		return fmt.Errorf("%w: signature invalid: algorithm %s is not accepted", ErrBadCSR, csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("%w: signature invalid: %v", ErrBadCSR, err)
	}
	return nil
}

// checkKey accepts the key types devices and TLS 1.3 peers use.
func checkKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: unsupported key type ECDSA %s (want P-256 or P-384)", ErrBadCSR, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: unsupported key type RSA %d bits (want %d to %d)", ErrBadCSR, bits, minRSABits, maxRSABits)
		}
	case ed25519.PublicKey:
		return fmt.Errorf("%w: unsupported key type Ed25519 (not usable by every TLS peer and TPM)", ErrBadCSR)
	default:
		return fmt.Errorf("%w: unsupported key type %T", ErrBadCSR, pub)
	}
	return nil
}
