package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

func TestParseAK(t *testing.T) {
	k := newP256(t)
	k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*tpm2.TPMAObject)) tpm2.TPMAObject {
		a := signingAttrs(true)
		f(&a)
		return a
	}
	good := public2B(eccArea(t, &k.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256))
	offCurve := eccArea(t, &k.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256)
	offCurve.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: new(big.Int).Add(k.Y, big.NewInt(1)).FillBytes(make([]byte, 32))},
	})

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{name: "ok/ecc-p256", in: good},
		{name: "ok/ecc-p384-sha384-name", in: public2B(eccArea(t, &k384.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA384))},
		{name: "ok/rsa-2048", in: public2B(rsaArea(&r2048.PublicKey, signingAttrs(true)))},
		{name: "error/not-restricted", in: public2B(eccArea(t, &k.PublicKey, signingAttrs(false), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/not-sign", in: public2B(eccArea(t, &k.PublicKey, with(func(a *tpm2.TPMAObject) { a.SignEncrypt = false; a.Decrypt = true }), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/sign-and-decrypt", in: public2B(eccArea(t, &k.PublicKey, with(func(a *tpm2.TPMAObject) { a.Decrypt = true }), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/not-fixedTPM", in: public2B(eccArea(t, &k.PublicKey, with(func(a *tpm2.TPMAObject) { a.FixedTPM = false }), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/not-fixedParent", in: public2B(eccArea(t, &k.PublicKey, with(func(a *tpm2.TPMAObject) { a.FixedParent = false }), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/imported", in: public2B(eccArea(t, &k.PublicKey, with(func(a *tpm2.TPMAObject) { a.SensitiveDataOrigin = false }), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/sha1-name", in: public2B(eccArea(t, &k.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA1)), want: attest.ErrAKAttributes},
		{name: "error/p521", in: public2B(eccArea(t, &k521.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256)), want: attest.ErrAKAttributes},
		{name: "error/rsa-1024", in: public2B(rsaArea(&r1024.PublicKey, signingAttrs(true))), want: attest.ErrAKAttributes},
		{name: "error/point-off-curve", in: public2B(offCurve), want: attest.ErrMalformed},
		{name: "error/trailing-byte", in: fix2BSize(append(bytes.Clone(good), 0)), want: attest.ErrMalformed},
		{name: "error/size-prefix-wrong", in: append(bytes.Clone(good), 0), want: attest.ErrMalformed},
		{name: "error/truncated", in: fix2BSize(good[:len(good)-5]), want: attest.ErrMalformed},
		{name: "error/empty", in: nil, want: attest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak, err := attest.ParseAK(tt.in)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAK: %v", err)
			}
			if !bytes.Equal(ak.Raw, tt.in) {
				t.Fatalf("Raw differs from input")
			}
			area, err := tpm2.Unmarshal[tpm2.TPMTPublic](tt.in[2:])
			if err != nil {
				t.Fatal(err)
			}
			if want := nameOf(t, *area); !bytes.Equal(ak.Name, want) {
				t.Fatalf("Name = %x, want %x", ak.Name, want)
			}
		})
	}
}

// TestParseAKNameIsOverReceivedBytes checks the name by hand for the common
// case: 0x000b (SHA-256) followed by SHA-256 of the TPMT_PUBLIC.
func TestParseAKNameIsOverReceivedBytes(t *testing.T) {
	k := newP256(t)
	in := public2B(eccArea(t, &k.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256))
	ak, err := attest.ParseAK(in)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(in[2:])
	if want := append([]byte{0x00, 0x0b}, sum[:]...); !bytes.Equal(ak.Name, want) {
		t.Fatalf("Name = %x, want %x", ak.Name, want)
	}
}

// fix2BSize rewrites the TPM2B size prefix to cover the rest of b.
func fix2BSize(b []byte) []byte {
	b = bytes.Clone(b)
	n := len(b) - 2
	b[0], b[1] = byte(n>>8), byte(n)
	return b
}
