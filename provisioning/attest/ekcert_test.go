package attest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/attest"
)

func TestVerifyEKCertificate(t *testing.T) {
	m := newManufacturer(t)
	ekKey := newP256(t)
	rsaEK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake := newP256(t)
	now := time.Now()

	tests := []struct {
		name          string
		der           func() []byte
		roots         *x509.CertPool
		intermediates *x509.CertPool
		now           time.Time
		want          error
		wantKey       any
	}{
		{name: "ok/ecc-via-intermediate", der: func() []byte { return m.ekCert(t, &ekKey.PublicKey).Raw },
			roots: m.roots, intermediates: m.intermediate, now: now, wantKey: &ekKey.PublicKey},
		{name: "ok/rsa-from-root", der: func() []byte { return m.ekCertFromRoot(t, &rsaEK.PublicKey).Raw },
			roots: m.roots, now: now, wantKey: &rsaEK.PublicKey},
		{name: "error/intermediate-missing", der: func() []byte { return m.ekCert(t, &ekKey.PublicKey).Raw },
			roots: m.roots, now: now, want: attest.ErrEKUntrusted},
		{name: "error/self-signed-fake", der: func() []byte {
			return pki.Issue(t, ekCertTemplate(t), nil, &fake.PublicKey, fake).Raw
		}, roots: m.roots, intermediates: m.intermediate, now: now, want: attest.ErrEKUntrusted},
		{name: "error/fake-ca-same-name", der: func() []byte {
			// A CA with the manufacturer's name but another key.
			other := newManufacturer(t)
			return other.ekCertFromRoot(t, &ekKey.PublicKey).Raw
		}, roots: m.roots, now: now, want: attest.ErrEKUntrusted},
		{name: "error/expired", der: func() []byte { return m.ekCert(t, &ekKey.PublicKey).Raw },
			roots: m.roots, intermediates: m.intermediate, now: now.Add(48 * time.Hour), want: attest.ErrEKUntrusted},
		{name: "error/nil-roots", der: func() []byte { return m.ekCertFromRoot(t, &ekKey.PublicKey).Raw },
			now: now, want: attest.ErrEKUntrusted},
		{name: "error/other-critical-extension", der: func() []byte {
			ext := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{5, 0}}
			return pki.Issue(t, ekCertTemplate(t, standardTPMSAN(t), ext), m.root, &ekKey.PublicKey, m.rootKey).Raw
		}, roots: m.roots, now: now, want: attest.ErrEKUntrusted},
		{name: "error/critical-san-without-manufacturer", der: func() []byte {
			san := tpmSAN(t, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "not a tpm"})
			return pki.Issue(t, ekCertTemplate(t, san), m.root, &ekKey.PublicKey, m.rootKey).Raw
		}, roots: m.roots, now: now, want: attest.ErrEKUntrusted},
		{name: "error/leaf-is-ca", der: func() []byte {
			tmpl := ekCertTemplate(t)
			tmpl.IsCA = true
			tmpl.KeyUsage |= x509.KeyUsageCertSign
			return pki.Issue(t, tmpl, m.root, &ekKey.PublicKey, m.rootKey).Raw
		}, roots: m.roots, now: now, want: attest.ErrEKUntrusted},
		{name: "error/garbage", der: func() []byte { return []byte("not a certificate") },
			roots: m.roots, now: now, want: attest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := attest.VerifyEKCertificateChain(tt.der(), tt.roots, tt.intermediates, tt.now)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.wantKey) {
				t.Fatalf("returned certificate holds another key")
			}
		})
	}
}

// TestVerifyEKCertificateIsChainWithoutIntermediates pins the contract that
// the short form is the chain form with no intermediates.
func TestVerifyEKCertificateIsChainWithoutIntermediates(t *testing.T) {
	m := newManufacturer(t)
	k := newP256(t)
	if _, err := attest.VerifyEKCertificate(m.ekCertFromRoot(t, &k.PublicKey).Raw, m.roots, time.Now()); err != nil {
		t.Fatalf("root-issued: %v", err)
	}
	_, err := attest.VerifyEKCertificate(m.ekCert(t, &k.PublicKey).Raw, m.roots, time.Now())
	if !errors.Is(err, attest.ErrEKUntrusted) {
		t.Fatalf("intermediate-issued without intermediates: err = %v", err)
	}
}

func TestEKHash(t *testing.T) {
	k := newP256(t)
	got, err := attest.EKHash(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("EKHash = %s, want %s", got, want)
	}
	if _, err := attest.EKHash(struct{}{}); !errors.Is(err, attest.ErrEKKey) {
		t.Fatalf("unsupported key: err = %v", err)
	}
}
