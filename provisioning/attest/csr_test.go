package attest_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

func TestVerifyCSR(t *testing.T) {
	key, other := newP256(t), newP256(t)
	csrFor := func(signer any) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "ignored: names come from the registry"},
		}, signer)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}
	tampered := csrFor(key)
	tampered.Signature[len(tampered.Signature)-3] ^= 0x01

	tests := []struct {
		name string
		csr  *x509.CertificateRequest
		want error
	}{
		{name: "ok/attested-key", csr: csrFor(key)},
		{name: "error/other-key", csr: csrFor(other), want: attest.ErrCSRKeyMismatch},
		{name: "error/bad-signature", csr: tampered, want: attest.ErrCSRSignature},
		{name: "error/nil", csr: nil, want: attest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := attest.VerifyCSR(tt.csr, &key.PublicKey); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
