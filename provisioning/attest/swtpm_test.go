//go:build swtpm

package attest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/swtpm"
	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// TestSWTPMEnrollment runs the whole flow against swtpm (libtpms), with the
// EK certificates swtpm_setup wrote to NV and verified against the
// swtpm-localca CA: once with the EK ReadEK picks (ECC P-384, the only ECC
// certificate swtpm writes) and once with the RSA-2048 EK.
func TestSWTPMEnrollment(t *testing.T) {
	sw := swtpm.Start(t)
	tpm := sw.Open(t)

	def, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatalf("ReadEK: %v", err)
	}
	if def.Kind != tpmkey.EKECCP384 {
		t.Fatalf("ReadEK chose %v, want %v (swtpm's ECC certificate)", def.Kind, tpmkey.EKECCP384)
	}

	for _, kind := range []tpmkey.EKKind{tpmkey.EKECCP384, tpmkey.EKRSA2048} {
		t.Run("ok/"+kind.String(), func(t *testing.T) {
			ek, err := tpmkey.ReadEKKind(tpm, kind)
			if err != nil {
				t.Fatalf("ReadEKKind: %v", err)
			}
			if ek.Cert == nil {
				t.Fatalf("no EK certificate at %#x", uint32(kind.CertIndex()))
			}
			// Step 2: the certificate chains to the localca root only
			// through its issuer.
			if _, err := attest.VerifyEKCertificate(ek.Cert, sw.Roots, time.Now()); !errors.Is(err, attest.ErrEKUntrusted) {
				t.Fatalf("without the intermediate: err = %v, want ErrEKUntrusted", err)
			}
			cert, err := attest.VerifyEKCertificateChain(ek.Cert, sw.Roots, sw.Intermediates, time.Now())
			if err != nil {
				t.Fatalf("VerifyEKCertificateChain: %v", err)
			}
			tpmPub, err := ek.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tpmPub) {
				t.Fatalf("certificate key differs from the TPM's EK")
			}
			if _, err := attest.EKHash(cert.PublicKey); err != nil {
				t.Fatalf("EKHash: %v", err)
			}

			// Step 3.
			ak, err := tpmkey.CreateAK(tpm)
			if err != nil {
				t.Fatalf("CreateAK: %v", err)
			}
			serverAK, err := attest.ParseAK(ak.Public())
			if err != nil {
				t.Fatalf("ParseAK: %v", err)
			}
			ch, err := attest.MakeCredential(cert.PublicKey, serverAK.Name)
			if err != nil {
				t.Fatalf("MakeCredential: %v", err)
			}
			nonce := make([]byte, 32)
			if _, err := rand.Read(nonce); err != nil {
				t.Fatal(err)
			}

			// Step 4, with the AK reloaded from its blob as after a reboot.
			ak, err = tpmkey.LoadAK(tpm, ak.Blob())
			if err != nil {
				t.Fatalf("LoadAK: %v", err)
			}
			secret, err := ek.Activate(tpm, ak, ch.CredBlob, ch.EncSecret)
			if err != nil {
				t.Fatalf("Activate: %v", err)
			}
			key, err := tpmkey.CreateKey(tpm)
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			defer key.Close()
			att, sig, err := key.Certify(ak, nonce)
			if err != nil {
				t.Fatalf("Certify: %v", err)
			}
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key.Signer())
			if err != nil {
				t.Fatalf("CSR: %v", err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}

			// Step 5.
			if err := attest.VerifyActivation(ch.Secret, secret); err != nil {
				t.Fatalf("VerifyActivation: %v", err)
			}
			pub, err := attest.VerifyCertify(serverAK, key.Public(), att, sig, nonce)
			if err != nil {
				t.Fatalf("VerifyCertify: %v", err)
			}
			if err := attest.VerifyCSR(csr, pub); err != nil {
				t.Fatalf("VerifyCSR: %v", err)
			}
			if _, err := attest.VerifyCertify(serverAK, key.Public(), att, sig, append(nonce[:31:31], nonce[31]^1)); !errors.Is(err, attest.ErrNonceMismatch) {
				t.Fatalf("other nonce: err = %v", err)
			}
		})
	}
}
