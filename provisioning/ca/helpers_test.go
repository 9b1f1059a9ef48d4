package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// newTestCA bootstraps a CA in a fresh temporary directory.
func newTestCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	c, _, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	return c, dir
}

// csrDER signs a CSR for key from tmpl (nil means an empty subject).
func csrDER(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "anything"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// csrPEM wraps a DER CSR in a PEM block of the given type.
func csrPEM(der []byte, typ string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// mustCSR parses der with ParseCSR and fails the test on error.
func mustCSR(t *testing.T, der []byte) *x509.CertificateRequest {
	t.Helper()
	csr, err := ParseCSR(der)
	if err != nil {
		t.Fatalf("ParseCSR: %v", err)
	}
	return csr
}

// issueTestDevice issues a certificate for a fresh key and returns both.
func issueTestDevice(t *testing.T, c *CA, id string, serial int64) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := pki.Key(t)
	cert, err := c.IssueDevice(mustCSR(t, csrDER(t, key, nil)), id, big.NewInt(serial), 0)
	if err != nil {
		t.Fatalf("IssueDevice: %v", err)
	}
	return cert, key
}

// parseCertPEM decodes one PEM certificate.
func parseCertPEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	der, err := decodeSinglePEM(data, pemCertificate)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readAll snapshots every regular file in dir by name.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// fixedClock returns a clock stuck at t, truncated to whole seconds since
// certificates store times with one-second precision.
func fixedClock(t time.Time) func() time.Time {
	t = t.Truncate(time.Second)
	return func() time.Time { return t }
}
