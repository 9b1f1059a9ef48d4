package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

func TestParseCSR(t *testing.T) {
	p256 := csrDER(t, pki.Key(t), nil)
	p384Key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521Key, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(p256)
	tampered[len(tampered)-1] ^= 0x01 // last byte of the signature's S value

	cases := []struct {
		name    string
		data    []byte
		wantErr string // "" means ok
	}{
		{"ok/PEM", csrPEM(p256, "CERTIFICATE REQUEST"), ""},
		{"ok/PEM new type", csrPEM(p256, "NEW CERTIFICATE REQUEST"), ""},
		{"ok/PEM with text before and newline after", append(append([]byte("openssl says:\n"), csrPEM(p256, "CERTIFICATE REQUEST")...), '\n'), ""},
		{"ok/DER", p256, ""},
		{"ok/P-384", csrDER(t, p384Key, nil), ""},
		{"ok/RSA 2048", csrDER(t, rsa2048, nil), ""},
		{"error/empty", nil, "empty"},
		{"error/garbage", []byte("hello, certificate authority"), "not PEM or DER"},
		{"error/binary garbage", []byte{0x30, 0x82, 0xff}, "not PEM or DER"},
		{"error/truncated DER", p256[:len(p256)/2], "not PEM or DER"},
		{"error/truncated PEM", csrPEM(p256, "CERTIFICATE REQUEST")[:100], "not PEM or DER"},
		{"error/wrong PEM type", csrPEM(p256, "CERTIFICATE"), "not a certificate request"},
		{"error/trailing data after DER", append(bytes.Clone(p256), 0, 0), "trailing data"},
		{"error/second PEM block", append(csrPEM(p256, "CERTIFICATE REQUEST"), csrPEM(p256, "CERTIFICATE REQUEST")...), "trailing data"},
		{"error/DER of something else", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, "malformed"},
		{"error/tampered signature", tampered, "signature invalid"},
		{"error/Ed25519", csrDER(t, edKey, nil), "unsupported key type Ed25519"},
		{"error/RSA 1024", csrDER(t, rsa1024, nil), "unsupported key type RSA 1024"},
		{"error/P-521", csrDER(t, p521Key, nil), "unsupported key type ECDSA P-521"},
		{"error/too large", bytes.Repeat([]byte{'A'}, MaxCSRSize+1), "more than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := ParseCSR(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if csr.PublicKey == nil {
					t.Fatal("no public key")
				}
				return
			}
			if !errors.Is(err, ErrBadCSR) {
				t.Fatalf("err = %v, want ErrBadCSR", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %q, want it to say %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseCSRKeepsKey checks that the parsed key is the signer's.
func TestParseCSRKeepsKey(t *testing.T) {
	key := pki.Key(t)
	csr := mustCSR(t, csrDER(t, key, nil))
	if !key.PublicKey.Equal(csr.PublicKey) {
		t.Error("parsed CSR carries another key")
	}
}
