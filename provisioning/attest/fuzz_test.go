package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// The fuzz targets feed the server's parsers what an attacker controls. The
// corpus in testdata/fuzz holds valid inputs made with the fixed keys below
// (so mutations start from bytes that pass every check) and truncated ones.

// fuzzScalar makes fuzz keys deterministic, so corpus entries keep their
// meaning across runs.
var fuzzScalar = bytes.Repeat([]byte{0x11}, 32)

// fuzzAKKey is the AK private key the corpus' attestations are signed with.
func fuzzAKKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), fuzzScalar)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fuzzNonce is the nonce the corpus' attestations carry.
var fuzzNonce = bytes.Repeat([]byte{0x42}, 32)

// isSentinel reports whether err wraps one of the package's refusals: a
// parser that fails any other way has a bug.
func isSentinel(err error) bool {
	for _, s := range []error{
		attest.ErrMalformed, attest.ErrAKAttributes, attest.ErrAttestMagic, attest.ErrAttestType,
		attest.ErrAKSignature, attest.ErrNonceMismatch, attest.ErrNameMismatch, attest.ErrKeyAttributes,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseAK(f *testing.F) {
	f.Add(public2B(eccArea(f, &fuzzAKKey(f).PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256)))
	f.Fuzz(func(t *testing.T, in []byte) {
		ak, err := attest.ParseAK(in)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if !bytes.Equal(ak.Raw, in) || len(ak.Name) < 34 || ak.Public == nil {
			t.Fatalf("accepted AK with Raw/Name/Public %d/%x/%T", len(ak.Raw), ak.Name, ak.Public)
		}
		// Accepted means restricted signing key: re-check from the bytes.
		area, err := tpm2.Unmarshal[tpm2.TPMTPublic](in[2:])
		if err != nil || !area.ObjectAttributes.Restricted || !area.ObjectAttributes.SignEncrypt {
			t.Fatalf("accepted AK that is not a restricted signing key: %v", err)
		}
	})
}

func FuzzVerifyCertify(f *testing.F) {
	akKey := fuzzAKKey(f)
	ak, err := attest.ParseAK(public2B(eccArea(f, &akKey.PublicKey, signingAttrs(true), tpm2.TPMAlgSHA256)))
	if err != nil {
		f.Fatal(err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x22}, 32))
	if err != nil {
		f.Fatal(err)
	}
	area := eccArea(f, &key.PublicKey, signingAttrs(false), tpm2.TPMAlgSHA256)
	att := certifyAttest(nameOf(f, area), fuzzNonce)
	f.Add(public2B(area), att, ecdsaSig(f, akKey, att))
	f.Fuzz(func(t *testing.T, keyPublic, attestation, sig []byte) {
		pub, err := attest.VerifyCertify(ak, keyPublic, attestation, sig, fuzzNonce)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Fatalf("accepted key %T", pub)
		}
	})
}
