//go:build tpmsimulator

package attest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// TestSimulatorRefusals presents the server with what a cheating or broken
// device could send, each built from real TPM output.
func TestSimulatorRefusals(t *testing.T) {
	tpm := tpmsim.Open(t)
	m := newManufacturer(t)
	e := enroll(t, tpm, m)
	// The baseline must pass, or the refusals below prove nothing.
	if _, err := attest.VerifyCertify(e.serverAK, e.key.Public(), e.attest, e.sig, e.nonce); err != nil {
		t.Fatalf("baseline VerifyCertify: %v", err)
	}
	// The simulator has three object slots and no resource manager: keep
	// at most one device key loaded, reloading from blobs where needed.
	if err := e.key.Close(); err != nil {
		t.Fatal(err)
	}
	other, err := tpmkey.CreateKey(tpm)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	otherPublic, otherBlob := other.Public(), other.Blob()
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("error/wrong-nonce", func(t *testing.T) {
		wrong := bytes.Repeat([]byte{0xee}, 32)
		_, err := attest.VerifyCertify(e.serverAK, e.key.Public(), e.attest, e.sig, wrong)
		if !errors.Is(err, attest.ErrNonceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/replayed-attestation", func(t *testing.T) {
		// A second enrollment issues a fresh nonce; the device replays the
		// statement certified for the first one.
		key, err := tpmkey.LoadKey(tpm, e.key.Blob())
		if err != nil {
			t.Fatal(err)
		}
		defer key.Close()
		att, sig, err := key.Certify(e.ak, e.nonce)
		if err != nil {
			t.Fatal(err)
		}
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			t.Fatal(err)
		}
		_, err = attest.VerifyCertify(e.serverAK, e.key.Public(), att, sig, fresh)
		if !errors.Is(err, attest.ErrNonceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/ak-not-restricted", func(t *testing.T) {
		attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}
		fake, err := tpmkey.LoadAK(tpm, customBlob(t, tpm, tpmSigningTemplate(attrs)))
		if err != nil {
			t.Fatalf("LoadAK: %v", err)
		}
		// The TPM would happily certify with it, which is why the server
		// must refuse it as an AK.
		key, err := tpmkey.LoadKey(tpm, e.key.Blob())
		if err != nil {
			t.Fatal(err)
		}
		defer key.Close()
		if _, _, err := key.Certify(fake, e.nonce); err != nil {
			t.Fatalf("Certify with unrestricted key: %v", err)
		}
		if _, err := attest.ParseAK(fake.Public()); !errors.Is(err, attest.ErrAKAttributes) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/key-not-fixedTPM", func(t *testing.T) {
		// Duplicable: fixedTPM and fixedParent clear, so the private key
		// could be exported to another TPM or to software.
		attrs := tpm2.TPMAObject{SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}
		dup, err := tpmkey.LoadKey(tpm, customBlob(t, tpm, tpmSigningTemplate(attrs)))
		if err != nil {
			t.Fatalf("LoadKey: %v", err)
		}
		defer dup.Close()
		att, sig, err := dup.Certify(e.ak, e.nonce)
		if err != nil {
			t.Fatalf("Certify: %v", err)
		}
		_, err = attest.VerifyCertify(e.serverAK, dup.Public(), att, sig, e.nonce)
		if !errors.Is(err, attest.ErrKeyAttributes) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/certified-name-differs", func(t *testing.T) {
		_, err := attest.VerifyCertify(e.serverAK, otherPublic, e.attest, e.sig, e.nonce)
		if !errors.Is(err, attest.ErrNameMismatch) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/csr-key-differs", func(t *testing.T) {
		pub, err := attest.VerifyCertify(e.serverAK, e.key.Public(), e.attest, e.sig, e.nonce)
		if err != nil {
			t.Fatal(err)
		}
		other, err := tpmkey.LoadKey(tpm, otherBlob)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, other.Signer())
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := attest.VerifyCSR(csr, pub); !errors.Is(err, attest.ErrCSRKeyMismatch) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/csr-bad-signature", func(t *testing.T) {
		pub, err := attest.VerifyCertify(e.serverAK, e.key.Public(), e.attest, e.sig, e.nonce)
		if err != nil {
			t.Fatal(err)
		}
		csr := *e.csr
		csr.Signature = bytes.Clone(csr.Signature)
		csr.Signature[len(csr.Signature)-2] ^= 0x01
		if err := attest.VerifyCSR(&csr, pub); !errors.Is(err, attest.ErrCSRSignature) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("error/tampered-attestation", func(t *testing.T) {
		for i := range e.attest {
			att := bytes.Clone(e.attest)
			att[i] ^= 0x01
			_, err := attest.VerifyCertify(e.serverAK, e.key.Public(), att, e.sig, e.nonce)
			if !errors.Is(err, attest.ErrAKSignature) && !errors.Is(err, attest.ErrAttestMagic) &&
				!errors.Is(err, attest.ErrAttestType) && !errors.Is(err, attest.ErrMalformed) {
				t.Fatalf("byte %d flipped: err = %v", i, err)
			}
			if i == 0 && !errors.Is(err, attest.ErrAttestMagic) {
				t.Fatalf("magic flipped: err = %v", err)
			}
			if i == len(e.attest)-1 && !errors.Is(err, attest.ErrAKSignature) {
				t.Fatalf("last byte flipped: err = %v", err)
			}
		}
	})

	t.Run("error/credential-for-another-ek", func(t *testing.T) {
		// Sealed to this TPM's RSA EK while the device activates with the
		// EK it chose (ECC): the TPM cannot open it.
		rsaEK, err := tpmkey.ReadEKKind(tpm, tpmkey.EKRSA2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaPub, err := rsaEK.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		for name, ekPub := range map[string]any{"same-tpm-rsa-ek": rsaPub, "software-ek": &newP256(t).PublicKey} {
			ch, err := attest.MakeCredential(ekPub, e.serverAK.Name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpmkey.Activate(tpm, e.ak, ch.CredBlob, ch.EncSecret)
			if err == nil && !errors.Is(attest.VerifyActivation(ch.Secret, got), attest.ErrSecretMismatch) {
				t.Fatalf("%s: activation yielded the secret", name)
			}
		}
	})

	t.Run("error/credential-for-another-ak", func(t *testing.T) {
		ak2, err := tpmkey.CreateAK(tpm)
		if err != nil {
			t.Fatal(err)
		}
		ak2Server, err := attest.ParseAK(ak2.Public())
		if err != nil {
			t.Fatal(err)
		}
		ek, err := tpmkey.ReadEK(tpm)
		if err != nil {
			t.Fatal(err)
		}
		ekPub, err := ek.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		ch, err := attest.MakeCredential(ekPub, ak2Server.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tpmkey.Activate(tpm, e.ak, ch.CredBlob, ch.EncSecret)
		if err == nil && !errors.Is(attest.VerifyActivation(ch.Secret, got), attest.ErrSecretMismatch) {
			t.Fatalf("activation with the wrong AK yielded the secret")
		}
	})

	t.Run("error/self-signed-ek-certificate", func(t *testing.T) {
		ek, err := tpmkey.ReadEK(tpm)
		if err != nil {
			t.Fatal(err)
		}
		ekPub, err := ek.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		// The TPM's real EK key in a certificate the attacker signed.
		forger := newP256(t)
		fake := pki.Issue(t, ekCertTemplate(t), nil, ekPub, forger)
		_, err = attest.VerifyEKCertificateChain(fake.Raw, m.roots, m.intermediate, time.Now())
		if !errors.Is(err, attest.ErrEKUntrusted) {
			t.Fatalf("err = %v", err)
		}
	})
}
