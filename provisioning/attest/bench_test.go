package attest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// benchEKs are the EK kinds a device may present; the credential's cost
// depends on it (RSA-OAEP encryption vs an ECDH on P-256 or P-384).
func benchEKs(b *testing.B) []struct {
	name string
	pub  crypto.PublicKey
} {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		pub  crypto.PublicKey
	}{
		{"ek=ecc-p256", &newP256(b).PublicKey},
		{"ek=ecc-p384", &p384.PublicKey},
		{"ek=rsa-2048", &r.PublicKey},
	}
}

// benchCSR is a CSR signed by the attested key.
func benchCSR(b *testing.B, key *ecdsa.PrivateKey) *x509.CertificateRequest {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, key)
	if err != nil {
		b.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		b.Fatal(err)
	}
	return csr
}

// BenchmarkEnrollmentServer is the server's TPM-specific CPU per enrollment:
// MakeCredential, VerifyCertify and VerifyCSR on pre-generated input (the
// same bytes a TPM returns, signed in software).
func BenchmarkEnrollmentServer(b *testing.B) {
	e := newSoftEnrollment(b)
	csr := benchCSR(b, e.key)
	for _, ek := range benchEKs(b) {
		b.Run(ek.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := attest.MakeCredential(ek.pub, e.ak.Name); err != nil {
					b.Fatal(err)
				}
				pub, err := attest.VerifyCertify(e.ak, e.keyPublic, e.attest, e.sig, e.nonce)
				if err != nil {
					b.Fatal(err)
				}
				if err := attest.VerifyCSR(csr, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEnrollmentServerFull adds the rest of the per-enrollment checks:
// EK certificate chain (intermediate and root, ECDSA P-256 CAs), EK hash,
// AK parsing and the activation compare.
func BenchmarkEnrollmentServerFull(b *testing.B) {
	m := newManufacturer(b)
	e := newSoftEnrollment(b)
	csr := benchCSR(b, e.key)
	akPublic := e.ak.Raw
	now := time.Now()
	for _, ek := range benchEKs(b) {
		der := m.ekCert(b, ek.pub).Raw
		b.Run(ek.name, func(b *testing.B) {
			for b.Loop() {
				cert, err := attest.VerifyEKCertificateChain(der, m.roots, m.intermediate, now)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := attest.EKHash(cert.PublicKey); err != nil {
					b.Fatal(err)
				}
				ak, err := attest.ParseAK(akPublic)
				if err != nil {
					b.Fatal(err)
				}
				ch, err := attest.MakeCredential(cert.PublicKey, ak.Name)
				if err != nil {
					b.Fatal(err)
				}
				if err := attest.VerifyActivation(ch.Secret, ch.Secret); err != nil {
					b.Fatal(err)
				}
				pub, err := attest.VerifyCertify(ak, e.keyPublic, e.attest, e.sig, e.nonce)
				if err != nil {
					b.Fatal(err)
				}
				if err := attest.VerifyCSR(csr, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
