package swtpm

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
)

// Open connects to the TPM through tpmkey and closes the connection at
// cleanup. swtpm serves one client at a time: close it (or let cleanup
// do so) before anything else connects.
func (p *TPM) Open(t testing.TB) transport.TPMCloser {
	t.Helper()
	tpm, err := tpmkey.Open(p.Path)
	if err != nil {
		t.Fatalf("tpmkey.Open: %v", err)
	}
	t.Cleanup(func() { _ = tpm.Close() })
	return tpm
}

// EKHash is the hex SHA-256 of the EK's public key, what the factory line
// records; the connection it uses is closed before it returns. It fails
// when the TPM holds no EK certificate.
func (p *TPM) EKHash(t testing.TB) string {
	t.Helper()
	tpm, err := tpmkey.Open(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if ek.Cert == nil {
		t.Fatal("swtpm has no EK certificate")
	}
	pub, err := ek.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
