package identity

import (
	"crypto/x509"
	"math/big"
	"testing"
)

// TestPinSpelling: the registry's spelling of a certificate's keys —
// lower-case hex serial without leading zeros, lower-case hex SHA-256 of
// the DER.
func TestPinSpelling(t *testing.T) {
	c := &x509.Certificate{SerialNumber: big.NewInt(0x0AB), Raw: []byte("abc")}
	if got := SerialHex(c); got != "ab" {
		t.Fatalf("SerialHex = %q, want ab", got)
	}
	const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := Fingerprint(c); got != sha {
		t.Fatalf("Fingerprint = %q, want %q", got, sha)
	}
}
