//go:build tpmsimulator

package tpmkey_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
)

func TestSimulatorAKBlob(t *testing.T) {
	tpm := tpmsim.Open(t)
	ak, err := tpmkey.CreateAK(tpm)
	if err != nil {
		t.Fatalf("CreateAK: %v", err)
	}
	area, err := tpm2.Unmarshal[tpm2.TPMTPublic](ak.Public()[2:])
	if err != nil {
		t.Fatal(err)
	}
	if a := area.ObjectAttributes; !a.Restricted || !a.SignEncrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || a.Decrypt {
		t.Fatalf("AK attributes %+v", a)
	}
	again, err := tpmkey.LoadAK(tpm, ak.Blob())
	if err != nil {
		t.Fatalf("LoadAK: %v", err)
	}
	if !bytes.Equal(again.Public(), ak.Public()) {
		t.Fatalf("reloaded AK has another public area")
	}
	if _, err := tpmkey.LoadAK(tpm, []byte{0, 1, 2}); !errors.Is(err, tpmkey.ErrBlob) {
		t.Fatalf("garbage blob: err = %v", err)
	}
	// A well-formed blob whose private part the SRK did not wrap.
	b := ak.Blob()
	b[len(b)-1] ^= 1
	if _, err := tpmkey.LoadAK(tpm, b); err == nil {
		t.Fatalf("tampered private area loaded")
	}
}

func TestSimulatorSigner(t *testing.T) {
	tpm := tpmsim.Open(t)
	key, err := tpmkey.CreateKey(tpm)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	defer key.Close()
	pub, ok := key.Signer().Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("signer public key %T", key.Signer().Public())
	}
	msg := []byte("TLS 1.3, client CertificateVerify")
	tests := []struct {
		name   string
		hash   crypto.Hash
		digest func() []byte
		want   error
	}{
		{name: "ok/sha256", hash: crypto.SHA256},
		{name: "ok/sha384", hash: crypto.SHA384},
		{name: "ok/sha512", hash: crypto.SHA512},
		{name: "error/sha1", hash: crypto.SHA1, want: tpmkey.ErrHash},
		{name: "error/no-hash", hash: 0, digest: func() []byte { return msg }, want: tpmkey.ErrHash},
		{name: "error/length-mismatch", hash: crypto.SHA384, digest: func() []byte { d := sha256.Sum256(msg); return d[:] }, want: tpmkey.ErrHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var digest []byte
			if tt.digest != nil {
				digest = tt.digest()
			} else {
				h := tt.hash.New()
				h.Write(msg)
				digest = h.Sum(nil)
			}
			sig, err := key.Signer().Sign(rand.Reader, digest, tt.hash)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				t.Fatalf("signature does not verify")
			}
		})
	}
}

func TestSimulatorKeyLifecycle(t *testing.T) {
	tpm := tpmsim.Open(t)
	key, err := tpmkey.CreateKey(tpm)
	if err != nil {
		t.Fatal(err)
	}
	blob, public := key.Blob(), key.Public()
	ak, err := tpmkey.CreateAK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := key.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := key.Signer().Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tpmkey.ErrClosed) {
		t.Fatalf("Sign after Close: err = %v", err)
	}
	if _, _, err := key.Certify(ak, []byte("nonce")); !errors.Is(err, tpmkey.ErrClosed) {
		t.Fatalf("Certify after Close: err = %v", err)
	}

	// After a restart the agent reloads the same key from its state dir.
	again, err := tpmkey.LoadKey(tpm, blob)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	defer again.Close()
	if !bytes.Equal(again.Public(), public) {
		t.Fatalf("reloaded key has another public area")
	}
	sig, err := again.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(again.Signer().Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("reloaded key's signature does not verify")
	}

	nonce := []byte("fresh-nonce-from-the-server-0001")
	attest, sigBytes, err := again.Certify(ak, nonce)
	if err != nil {
		t.Fatalf("Certify: %v", err)
	}
	a, err := tpm2.Unmarshal[tpm2.TPMSAttest](attest)
	if err != nil {
		t.Fatalf("attestation: %v", err)
	}
	info, err := a.Attested.Certify()
	if err != nil {
		t.Fatal(err)
	}
	area, err := tpm2.Unmarshal[tpm2.TPMTPublic](public[2:])
	if err != nil {
		t.Fatal(err)
	}
	name, err := tpm2.ObjectName(area)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.ExtraData.Buffer, nonce) || !bytes.Equal(info.Name.Buffer, name.Buffer) {
		t.Fatalf("attestation carries nonce %q and name %x", a.ExtraData.Buffer, info.Name.Buffer)
	}
	if _, err := tpm2.Unmarshal[tpm2.TPMTSignature](sigBytes); err != nil {
		t.Fatalf("signature: %v", err)
	}
}

// TestSimulatorSignerConcurrent signs from many goroutines at once, as
// concurrent TLS handshakes would; the simulator transport is not safe for
// concurrent use, so this fails (or trips -race) unless the key serialises.
func TestSimulatorSignerConcurrent(t *testing.T) {
	tpm := tpmsim.Open(t)
	key, err := tpmkey.CreateKey(tpm)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	pub := key.Signer().Public().(*ecdsa.PublicKey)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d := sha256.Sum256([]byte{byte(w), byte(i)})
				sig, err := key.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil {
					errs <- err
					continue
				}
				if !ecdsa.VerifyASN1(pub, d[:], sig) {
					errs <- errors.New("signature does not verify")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
