package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
)

// CSR is a parsed certificate request for key with common name cn (none
// when empty), as a device sends it.
func CSR(t testing.TB, key crypto.Signer, cn string) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// CSRPEM is CSR encoded as PEM, the form the enrolment API takes.
func CSRPEM(t testing.TB, key crypto.Signer, cn string) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: CSR(t, key, cn).Raw}))
}
