package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// maxSerialBits keeps a positive serial within the 20 octets RFC 5280
// allows once DER-encoded: 160 bits would need a leading zero octet.
const maxSerialBits = 159

// newKey creates the key for every certificate this package generates
// itself. P-256 is what the whole fleet speaks (device keys live in TPMs
// that support it, and TLS 1.3 handshakes are cheapest with it).
func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// randomSerial returns a random positive 128-bit serial for certificates
// this package issues on its own (CA, server and operator certificates);
// device serials come from the registry.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("random serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// checkSerial enforces RFC 5280 section 4.1.2.2: positive, at most 20
// octets. Go's x509 only warns about the length, and some verifiers refuse
// longer serials, so the check is ours.
func checkSerial(serial *big.Int) error {
	switch {
	case serial == nil:
		return fmt.Errorf("%w: missing", ErrBadSerial)
	case serial.Sign() <= 0:
		return fmt.Errorf("%w: %s is not positive", ErrBadSerial, serial)
	case serial.BitLen() > maxSerialBits:
		return fmt.Errorf("%w: %d bits, more than 20 octets once encoded", ErrBadSerial, serial.BitLen())
	}
	return nil
}

// subjectKeyID computes the key identifier by RFC 7093 method 1 (leftmost
// 160 bits of the SHA-256 of the subjectPublicKey bits), the method Go uses
// for CA certificates, so every certificate we write carries one and chain
// building never has to guess.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// keyMatches reports whether key is the private half of pub.
func keyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	return publicMatches(key.Public(), pub)
}

// publicMatches reports whether a and b are the same public key.
func publicMatches(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
