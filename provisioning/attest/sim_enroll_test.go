//go:build tpmsimulator

package attest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// enrollment is the state of one run of the protocol between the device
// (tpmkey on the TPM) and the server (this package).
type enrollment struct {
	ak       tpmkey.AK
	serverAK attest.AK
	ch       attest.Challenge
	secret   []byte
	key      *tpmkey.Key
	nonce    []byte
	attest   []byte
	sig      []byte
	csr      *x509.CertificateRequest
}

// enroll runs steps 1-4 of the flow with an EK certificate made by m for the
// TPM's EK (the simulator has none of its own), checking the server side of
// steps 2-3 on the way.
func enroll(t *testing.T, tpm transport.TPM, m *manufacturer) *enrollment {
	t.Helper()
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatalf("ReadEK: %v", err)
	}
	if ek.Cert != nil {
		t.Fatalf("simulator unexpectedly has an EK certificate")
	}
	ekPub, err := ek.PublicKey()
	if err != nil {
		t.Fatalf("EK public key: %v", err)
	}
	ekCert := m.ekCert(t, ekPub)

	e := &enrollment{}
	if e.ak, err = tpmkey.CreateAK(tpm); err != nil {
		t.Fatalf("CreateAK: %v", err)
	}
	// Server: the EK key comes from the verified certificate, not the request.
	cert, err := attest.VerifyEKCertificateChain(ekCert.Raw, m.roots, m.intermediate, time.Now())
	if err != nil {
		t.Fatalf("VerifyEKCertificateChain: %v", err)
	}
	if e.serverAK, err = attest.ParseAK(e.ak.Public()); err != nil {
		t.Fatalf("ParseAK: %v", err)
	}
	if e.ch, err = attest.MakeCredential(cert.PublicKey, e.serverAK.Name); err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	e.nonce = make([]byte, 32)
	if _, err := rand.Read(e.nonce); err != nil {
		t.Fatal(err)
	}
	// Device.
	if e.secret, err = tpmkey.Activate(tpm, e.ak, e.ch.CredBlob, e.ch.EncSecret); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	if e.key, err = tpmkey.CreateKey(tpm); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	t.Cleanup(func() { _ = e.key.Close() })
	if e.attest, e.sig, err = e.key.Certify(e.ak, e.nonce); err != nil {
		t.Fatalf("Certify: %v", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "device"},
	}, e.key.Signer())
	if err != nil {
		t.Fatalf("CreateCertificateRequest with TPM signer: %v", err)
	}
	if e.csr, err = x509.ParseCertificateRequest(der); err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	return e
}

func TestSimulatorEnrollment(t *testing.T) {
	tpm := tpmsim.Open(t)
	e := enroll(t, tpm, newManufacturer(t))

	// Server, step 5.
	if err := attest.VerifyActivation(e.ch.Secret, e.secret); err != nil {
		t.Fatalf("VerifyActivation: %v", err)
	}
	pub, err := attest.VerifyCertify(e.serverAK, e.key.Public(), e.attest, e.sig, e.nonce)
	if err != nil {
		t.Fatalf("VerifyCertify: %v", err)
	}
	if err := attest.VerifyCSR(e.csr, pub); err != nil {
		t.Fatalf("VerifyCSR: %v", err)
	}
	peer := mTLSHandshake(t, e.key.Signer())
	if !e.key.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(peer) {
		t.Fatalf("server saw another client key")
	}
}

// TestSimulatorEKKinds activates a credential made by the server for each
// supported EK template: the server infers the template's hash and cipher
// from the key alone, and the TPM must agree.
func TestSimulatorEKKinds(t *testing.T) {
	tpm := tpmsim.Open(t)
	ak, err := tpmkey.CreateAK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	serverAK, err := attest.ParseAK(ak.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []tpmkey.EKKind{tpmkey.EKECCP256, tpmkey.EKECCP384, tpmkey.EKRSA2048} {
		t.Run("ok/"+kind.String(), func(t *testing.T) {
			ek, err := tpmkey.ReadEKKind(tpm, kind)
			if err != nil {
				t.Fatalf("ReadEKKind: %v", err)
			}
			ekPub, err := ek.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			ch, err := attest.MakeCredential(ekPub, serverAK.Name)
			if err != nil {
				t.Fatalf("MakeCredential: %v", err)
			}
			got, err := ek.Activate(tpm, ak, ch.CredBlob, ch.EncSecret)
			if err != nil {
				t.Fatalf("Activate: %v", err)
			}
			if err := attest.VerifyActivation(ch.Secret, got); err != nil {
				t.Fatalf("VerifyActivation: %v", err)
			}
		})
	}
}
