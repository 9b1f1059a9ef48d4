package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// softEnrollment is one device's worth of software-made attestation input.
type softEnrollment struct {
	akKey     *ecdsa.PrivateKey
	ak        attest.AK
	key       *ecdsa.PrivateKey
	keyPublic []byte
	nonce     []byte
	attest    []byte
	sig       []byte
}

func newSoftEnrollment(t testing.TB) softEnrollment {
	t.Helper()
	e := softEnrollment{akKey: newP256(t), key: newP256(t), nonce: bytes.Repeat([]byte{0x42}, 32)}
	var err error
	e.ak, err = attest.ParseAK(public2B(eccArea(t, &e.akKey.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256)))
	if err != nil {
		t.Fatalf("ParseAK: %v", err)
	}
	area := eccArea(t, &e.key.PublicKey, signingAttrs(false), tpm2.TPMAlgSHA256)
	e.keyPublic = public2B(area)
	e.attest = certifyAttest(nameOf(t, area), e.nonce)
	e.sig = ecdsaSig(t, e.akKey, e.attest)
	return e
}

func TestVerifyCertify(t *testing.T) {
	e := newSoftEnrollment(t)
	other := newP256(t)

	// certified builds a genuine AK statement about a key with the given
	// public area, as a TPM would for a key that exists in it.
	certified := func(area tpm2.TPMTPublic) (keyPublic, att, sig []byte) {
		att = certifyAttest(nameOf(t, area), e.nonce)
		return public2B(area), att, ecdsaSig(t, e.akKey, att)
	}
	keyWith := func(f func(*tpm2.TPMAObject), k *ecdsa.PublicKey, nameAlg tpm2.TPMAlgID) tpm2.TPMTPublic {
		a := signingAttrs(false)
		f(&a)
		return eccArea(t, k, a, nameAlg)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x01
		return b
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	quote := tpm2.Marshal(tpm2.TPMSAttest{
		Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestQuote,
		ExtraData: tpm2.TPM2BData{Buffer: e.nonce},
		Attested:  tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{}),
	})

	type input struct{ keyPublic, attest, sig, nonce []byte }
	base := input{e.keyPublic, e.attest, e.sig, e.nonce}
	tests := []struct {
		name string
		in   func() input
		want error
	}{
		{name: "ok/genuine", in: func() input { return base }},
		{name: "error/wrong-nonce", in: func() input {
			in := base
			in.nonce = bytes.Repeat([]byte{0x43}, 32)
			return in
		}, want: attest.ErrNonceMismatch},
		{name: "error/empty-nonce", in: func() input {
			in := base
			in.nonce = nil
			return in
		}, want: attest.ErrNonceMismatch},
		{name: "error/magic-flipped", in: func() input {
			in := base
			in.attest = flip(in.attest, 0)
			return in
		}, want: attest.ErrAttestMagic},
		{name: "error/last-byte-flipped", in: func() input {
			in := base
			in.attest = flip(in.attest, -1)
			return in
		}, want: attest.ErrAKSignature},
		{name: "error/quote-not-certify", in: func() input {
			return input{e.keyPublic, quote, ecdsaSig(t, e.akKey, quote), e.nonce}
		}, want: attest.ErrAttestType},
		{name: "error/signed-by-other-key", in: func() input {
			in := base
			in.sig = ecdsaSig(t, other, in.attest)
			return in
		}, want: attest.ErrAKSignature},
		{name: "error/rsa-signature-for-ecc-ak", in: func() input {
			in := base
			in.sig = rsaSig(t, rsaKey, in.attest)
			return in
		}, want: attest.ErrAKSignature},
		{name: "error/other-key-presented", in: func() input {
			in := base
			in.keyPublic = public2B(eccArea(t, &other.PublicKey, signingAttrs(false), tpm2.TPMAlgSHA256))
			return in
		}, want: attest.ErrNameMismatch},
		{name: "error/not-fixedTPM", in: func() input {
			k, a, s := certified(keyWith(func(a *tpm2.TPMAObject) { a.FixedTPM = false }, &e.key.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/not-fixedParent", in: func() input {
			k, a, s := certified(keyWith(func(a *tpm2.TPMAObject) { a.FixedParent = false }, &e.key.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/imported", in: func() input {
			k, a, s := certified(keyWith(func(a *tpm2.TPMAObject) { a.SensitiveDataOrigin = false }, &e.key.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/restricted", in: func() input {
			k, a, s := certified(keyWith(func(a *tpm2.TPMAObject) { a.Restricted = true }, &e.key.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/decrypt", in: func() input {
			k, a, s := certified(keyWith(func(a *tpm2.TPMAObject) { a.Decrypt = true }, &e.key.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/sha1-name", in: func() input {
			k, a, s := certified(keyWith(func(*tpm2.TPMAObject) {}, &e.key.PublicKey, tpm2.TPMAlgSHA1))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/p384-key", in: func() input {
			k, a, s := certified(keyWith(func(*tpm2.TPMAObject) {}, &p384.PublicKey, tpm2.TPMAlgSHA256))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/rsa-key", in: func() input {
			k, a, s := certified(rsaArea(&rsaKey.PublicKey, signingAttrs(false)))
			return input{k, a, s, e.nonce}
		}, want: attest.ErrKeyAttributes},
		{name: "error/garbage-signature", in: func() input {
			in := base
			in.sig = []byte{0x00, 0x18, 0x00}
			return in
		}, want: attest.ErrMalformed},
		{name: "error/signature-trailing-byte", in: func() input {
			in := base
			in.sig = append(bytes.Clone(in.sig), 0)
			return in
		}, want: attest.ErrMalformed},
		{name: "error/attest-trailing-byte", in: func() input {
			in := base
			in.attest = append(bytes.Clone(in.attest), 0)
			return in
		}, want: attest.ErrMalformed},
		{name: "error/garbage-key-public", in: func() input {
			in := base
			in.keyPublic = []byte{0x00, 0x02, 0x00, 0x23}
			return in
		}, want: attest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			got, err := attest.VerifyCertify(e.ak, in.keyPublic, in.attest, in.sig, in.nonce)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyCertify: %v", err)
			}
			if !e.key.PublicKey.Equal(got) {
				t.Fatalf("returned key is not the certified key")
			}
		})
	}
}

// TestVerifyCertifyRSAAK covers AKs that sign with RSASSA, as TPMs without
// ECC do.
func TestVerifyCertifyRSAAK(t *testing.T) {
	akKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ak, err := attest.ParseAK(public2B(rsaArea(&akKey.PublicKey, signingAttrs(true))))
	if err != nil {
		t.Fatal(err)
	}
	key := newP256(t)
	area := eccArea(t, &key.PublicKey, signingAttrs(false), tpm2.TPMAlgSHA256)
	nonce := []byte("0123456789abcdef0123456789abcdef")
	att := certifyAttest(nameOf(t, area), nonce)
	if _, err := attest.VerifyCertify(ak, public2B(area), att, rsaSig(t, akKey, att), nonce); err != nil {
		t.Fatalf("ok/rsassa: %v", err)
	}
	if _, err := attest.VerifyCertify(ak, public2B(area), att, ecdsaSig(t, key, att), nonce); !errors.Is(err, attest.ErrAKSignature) {
		t.Fatalf("error/ecdsa-signature-for-rsa-ak: err = %v", err)
	}
}
