package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

func TestMakeCredential(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r3072, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ak := newP256(t)
	name := nameOf(t, eccArea(t, &ak.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256))

	tests := []struct {
		name   string
		ek     any
		akName []byte
		want   error
		encLen int // expected EncSecret length: a TPM2B ECC point or an RSA block
	}{
		{name: "ok/ecc-p256", ek: &newP256(t).PublicKey, akName: name, encLen: 2 + 32 + 2 + 32},
		{name: "ok/ecc-p384", ek: &p384.PublicKey, akName: name, encLen: 2 + 48 + 2 + 48},
		{name: "ok/rsa-2048", ek: &r2048.PublicKey, akName: name, encLen: 256},
		{name: "error/rsa-3072", ek: &r3072.PublicKey, akName: name, want: attest.ErrEKKey},
		{name: "error/ecc-p521", ek: &p521.PublicKey, akName: name, want: attest.ErrEKKey},
		{name: "error/ed25519", ek: edPub, akName: name, want: attest.ErrEKKey},
		{name: "error/name-too-short", ek: &r2048.PublicKey, akName: name[:10], want: attest.ErrMalformed},
		{name: "error/name-sha1", ek: &r2048.PublicKey, akName: append([]byte{0x00, 0x04}, make([]byte, 20)...), want: attest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := attest.MakeCredential(tt.ek, tt.akName)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("MakeCredential: %v", err)
			}
			if len(ch.Secret) != attest.SecretSize || bytes.Equal(ch.Secret, make([]byte, attest.SecretSize)) {
				t.Fatalf("secret = %x", ch.Secret)
			}
			if len(ch.EncSecret) != tt.encLen {
				t.Fatalf("EncSecret is %d bytes, want %d", len(ch.EncSecret), tt.encLen)
			}
			// TPMS_ID_OBJECT: TPM2B HMAC, then the encrypted TPM2B secret.
			if len(ch.CredBlob) < 2+32+2+attest.SecretSize {
				t.Fatalf("CredBlob is %d bytes", len(ch.CredBlob))
			}
			again, err := attest.MakeCredential(tt.ek, tt.akName)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again.Secret, ch.Secret) || bytes.Equal(again.CredBlob, ch.CredBlob) {
				t.Fatalf("two challenges share a secret or blob")
			}
		})
	}
}

func TestVerifyActivation(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, attest.SecretSize)
	tests := []struct {
		name     string
		expected []byte
		got      []byte
		want     error
	}{
		{name: "ok/equal", expected: secret, got: bytes.Clone(secret)},
		{name: "error/one-bit", expected: secret, got: append(bytes.Repeat([]byte{7}, attest.SecretSize-1), 6), want: attest.ErrSecretMismatch},
		{name: "error/prefix", expected: secret, got: secret[:16], want: attest.ErrSecretMismatch},
		{name: "error/empty-got", expected: secret, got: nil, want: attest.ErrSecretMismatch},
		{name: "error/nothing-expected", expected: nil, got: nil, want: attest.ErrSecretMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := attest.VerifyActivation(tt.expected, tt.got); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
