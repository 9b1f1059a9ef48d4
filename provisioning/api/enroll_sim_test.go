//go:build tpmsimulator

package api_test

import (
	"bytes"
	"crypto"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// The device side of these tests is the agent's own TPM code (tpmkey) on
// go-tpm's simulator; the server side is the real API over HTTPS. The
// simulator has no EK certificate, so a test manufacturer certifies its EK.
// One simulator per process, three object slots: tests run one after the
// other and close keys they are done with.

// simDevice is a device with the simulator as its TPM.
type simDevice struct {
	tpm    transport.TPM
	ekPub  crypto.PublicKey
	ekCert []byte
	ek     tpmkey.EK
	ak     tpmkey.AK
}

func newSimDevice(t *testing.T, tpm transport.TPM, m *softtpm.Manufacturer) *simDevice {
	t.Helper()
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatalf("ReadEK: %v", err)
	}
	pub, err := ek.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ak, err := tpmkey.CreateAK(tpm)
	if err != nil {
		t.Fatalf("CreateAK: %v", err)
	}
	return &simDevice{tpm: tpm, ekPub: pub, ekCert: m.EKCert(t, pub).Raw, ek: ek, ak: ak}
}

// start asks for a challenge and activates its credential in the TPM.
func (s *simDevice) start(t *testing.T, e *apitest.Env, id string) (wire.TPMStartResponse, []byte) {
	t.Helper()
	resp, err := deviceClient(t, e).StartTPM(testCtx(t), wire.TPMStartRequest{DeviceID: id, EKCert: s.ekCert, AKPublic: s.ak.Public()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	secret, err := tpmkey.Activate(s.tpm, s.ak, resp.CredentialBlob, resp.EncryptedSecret)
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return resp, secret
}

// newKey creates a TLS key in the TPM, closed when the test ends.
func (s *simDevice) newKey(t *testing.T) *tpmkey.Key {
	t.Helper()
	k, err := tpmkey.CreateKey(s.tpm)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// finishRequest certifies key with nonce and signs a CSR with it.
func (s *simDevice) finishRequest(t *testing.T, id string, secret []byte, key *tpmkey.Key, nonce []byte) wire.TPMFinishRequest {
	t.Helper()
	att, sig, err := key.Certify(s.ak, nonce)
	if err != nil {
		t.Fatalf("Certify: %v", err)
	}
	return wire.TPMFinishRequest{ChallengeID: id, Secret: secret, KeyPublic: key.Public(), Attestation: att, Signature: sig, CSR: pki.CSRPEM(t, key.Signer(), "ignored")}
}

// TestSimulatorEnrollment enrolls a device whose key lives in the TPM, then
// rotates it over mTLS with that TPM key, and rotates again with the new
// one: every TLS handshake signs in the TPM.
func TestSimulatorEnrollment(t *testing.T) {
	tpm := tpmsim.Open(t)
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	s := newSimDevice(t, tpm, m)
	preRegister(t, e, "sim-tpm-1", s.ekPub)
	ctx := testCtx(t)

	resp, secret := s.start(t, e, "sim-tpm-1")
	key1 := s.newKey(t)
	first, err := deviceClient(t, e).FinishTPM(ctx, s.finishRequest(t, resp.ChallengeID, secret, key1, resp.Nonce))
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	checkEnrolled(t, e, first, "sim-tpm-1", key1.Signer().Public(), store.AttestTPM)

	rc := rotationClient(t, e, tlsCert(t, first, key1.Signer()))
	ch, err := rc.StartRotation(ctx)
	if err != nil {
		t.Fatalf("start rotation with the TPM key: %v", err)
	}
	// Without a resource manager the simulator holds three objects: the
	// old key goes before the new one is certified. The finish calls reuse
	// the connection the old key authenticated, as an agent's client does.
	if err := key1.Close(); err != nil {
		t.Fatal(err)
	}
	key2 := s.newKey(t)
	att, sig, err := key2.Certify(s.ak, ch.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	req := wire.RotationRequest{ChallengeID: ch.ChallengeID, KeyPublic: key2.Public(), Attestation: att, Signature: sig, CSR: pki.CSRPEM(t, key2.Signer(), "ignored")}
	second, err := rc.FinishRotation(ctx, req)
	if err != nil {
		t.Fatalf("finish rotation: %v", err)
	}
	if rec := checkEnrolled(t, e, second, "sim-tpm-1", key2.Signer().Public(), store.AttestTPM); rec.Supersedes != first.Serial {
		t.Errorf("rotated certificate supersedes %q, want %s", rec.Supersedes, first.Serial)
	}
	again, err := rc.FinishRotation(ctx, req)
	if err != nil || again.Serial != second.Serial {
		t.Fatalf("retry = %s, %v; want %s", again.Serial, err, second.Serial)
	}
	rc.CloseIdleConnections()
	// The new certificate, with its TPM key, authenticates a rotation.
	if _, err := rotationClient(t, e, tlsCert(t, second, key2.Signer())).StartRotation(ctx); err != nil {
		t.Fatalf("start rotation with the rotated certificate: %v", err)
	}
}

// TestSimulatorEKPublic enrolls a TPM without an EK certificate whose EK
// public hash the factory registered.
func TestSimulatorEKPublic(t *testing.T) {
	tpm := tpmsim.Open(t)
	e := apitest.Start(t, apitest.Options{}) // no manufacturer roots at all
	s := newSimDevice(t, tpm, softtpm.NewManufacturer(t))
	preRegister(t, e, "sim-tpm-1", s.ekPub)
	resp, err := deviceClient(t, e).StartTPM(testCtx(t), wire.TPMStartRequest{EKPublic: s.ek.Public, AKPublic: s.ak.Public()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	secret, err := tpmkey.Activate(tpm, s.ak, resp.CredentialBlob, resp.EncryptedSecret)
	if err != nil {
		t.Fatal(err)
	}
	key := s.newKey(t)
	got, err := deviceClient(t, e).FinishTPM(testCtx(t), s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce))
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	checkEnrolled(t, e, got, "sim-tpm-1", key.Signer().Public(), store.AttestTPM)
}

// TestSimulatorRefusals builds each refused request from real TPM output
// and checks its code; none writes anything.
func TestSimulatorRefusals(t *testing.T) {
	tpm := tpmsim.Open(t)
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	short := tpmEnv(t, m, api.Config{ChallengeTTL: time.Second})
	s := newSimDevice(t, tpm, m)
	preRegister(t, e, "sim-tpm-1", s.ekPub)
	preRegister(t, short, "sim-tpm-1", s.ekPub)
	preRegister(t, e, "other-tpm-1", &pki.Key(t).PublicKey)
	foreignEK := pki.Key(t)
	preRegister(t, e, "foreign-1", &foreignEK.PublicKey)
	key := s.newKey(t)
	defer func() { _ = key.Close() }() // the one loaded last
	dev := deviceClient(t, e)

	finishRefused := func(t *testing.T, env *apitest.Env, req wire.TPMFinishRequest, status int, code wire.Code) {
		t.Helper()
		before := take(t, env)
		_, err := deviceClient(t, env).FinishTPM(testCtx(t), req)
		wantRefusal(t, err, status, code)
		assertUnchanged(t, env, before)
	}
	startRefused := func(t *testing.T, req wire.TPMStartRequest, status int, code wire.Code) {
		t.Helper()
		before := take(t, e)
		_, err := dev.StartTPM(testCtx(t), req)
		wantRefusal(t, err, status, code)
		assertUnchanged(t, e, before)
	}

	t.Run("error/wrong-nonce", func(t *testing.T) {
		resp, secret := s.start(t, e, "sim-tpm-1")
		finishRefused(t, e, s.finishRequest(t, resp.ChallengeID, secret, key, bytes.Repeat([]byte{0xee}, 32)), http.StatusForbidden, wire.CodeNonceMismatch)
	})
	t.Run("error/replayed-finish", func(t *testing.T) {
		resp, secret := s.start(t, e, "sim-tpm-1")
		req := s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce)
		if _, err := dev.FinishTPM(testCtx(t), req); err != nil {
			t.Fatalf("first finish: %v", err)
		}
		finishRefused(t, e, req, http.StatusConflict, wire.CodeChallengeReplayed)
	})
	t.Run("error/expired-challenge", func(t *testing.T) {
		resp, secret := s.start(t, short, "sim-tpm-1")
		waitPast(t, resp.ExpiresAt)
		finishRefused(t, short, s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce), http.StatusGone, wire.CodeChallengeExpired)
	})
	t.Run("error/ak-not-restricted", func(t *testing.T) {
		attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}
		fake, err := tpmkey.LoadAK(tpm, tpmsim.KeyBlob(t, tpm, tpmsim.SigningTemplate(attrs)))
		if err != nil {
			t.Fatalf("LoadAK: %v", err)
		}
		startRefused(t, wire.TPMStartRequest{DeviceID: "sim-tpm-1", EKCert: s.ekCert, AKPublic: fake.Public()}, http.StatusForbidden, wire.CodeAKAttributes)
	})
	t.Run("error/key-not-fixed-tpm", func(t *testing.T) {
		// Room for the loose key: the usual one is unloaded meanwhile.
		blob := key.Blob()
		if err := key.Close(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			var err error
			if key, err = tpmkey.LoadKey(tpm, blob); err != nil {
				t.Fatalf("reload key: %v", err)
			}
		}()
		resp, secret := s.start(t, e, "sim-tpm-1")
		attrs := tpm2.TPMAObject{SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}
		loose, err := tpmkey.LoadKey(tpm, tpmsim.KeyBlob(t, tpm, tpmsim.SigningTemplate(attrs)))
		if err != nil {
			t.Fatalf("LoadKey: %v", err)
		}
		defer loose.Close()
		finishRefused(t, e, s.finishRequest(t, resp.ChallengeID, secret, loose, resp.Nonce), http.StatusForbidden, wire.CodeKeyAttributes)
	})
	t.Run("error/certified-name-differs", func(t *testing.T) {
		other, err := tpmkey.CreateKey(tpm)
		if err != nil {
			t.Fatal(err)
		}
		otherPublic := other.Public()
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		resp, secret := s.start(t, e, "sim-tpm-1")
		req := s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce)
		req.KeyPublic = otherPublic
		finishRefused(t, e, req, http.StatusForbidden, wire.CodeNameMismatch)
	})
	t.Run("error/csr-key-differs", func(t *testing.T) {
		resp, secret := s.start(t, e, "sim-tpm-1")
		req := s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce)
		req.CSR = pki.CSRPEM(t, pki.Key(t), "ignored")
		finishRefused(t, e, req, http.StatusForbidden, wire.CodeCSRKeyMismatch)
	})
	t.Run("error/bad-csr-signature", func(t *testing.T) {
		resp, secret := s.start(t, e, "sim-tpm-1")
		req := s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce)
		req.CSR = string(tamperSignature(t, []byte(req.CSR)))
		finishRefused(t, e, req, http.StatusForbidden, wire.CodeCSRSignature)
	})
	t.Run("error/tampered-attestation", func(t *testing.T) {
		resp, secret := s.start(t, e, "sim-tpm-1")
		req := s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce)
		req.Attestation[len(req.Attestation)/2] ^= 0x01
		finishRefused(t, e, req, http.StatusForbidden, wire.CodeAKSignature)
	})
	t.Run("error/credential-for-another-ek", func(t *testing.T) {
		// The server seals the credential to the EK of the certificate
		// presented; a TPM without that EK cannot open it and can only
		// guess the secret.
		resp, err := dev.StartTPM(testCtx(t), wire.TPMStartRequest{DeviceID: "foreign-1", EKCert: m.EKCert(t, &foreignEK.PublicKey).Raw, AKPublic: s.ak.Public()})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if _, err := tpmkey.Activate(tpm, s.ak, resp.CredentialBlob, resp.EncryptedSecret); err == nil {
			t.Fatal("the TPM activated a credential sealed to another EK")
		}
		finishRefused(t, e, s.finishRequest(t, resp.ChallengeID, make([]byte, 32), key, resp.Nonce), http.StatusForbidden, wire.CodeSecretMismatch)
	})
	t.Run("error/ek-not-on-allow-list", func(t *testing.T) {
		startRefused(t, wire.TPMStartRequest{DeviceID: "other-tpm-1", EKCert: s.ekCert, AKPublic: s.ak.Public()}, http.StatusForbidden, wire.CodeEKNotAllowed)
	})
	t.Run("error/self-signed-ek-certificate", func(t *testing.T) {
		startRefused(t, wire.TPMStartRequest{DeviceID: "sim-tpm-1", EKCert: softtpm.SelfSignedEKCert(t, pki.Key(t)), AKPublic: s.ak.Public()}, http.StatusForbidden, wire.CodeEKUntrusted)
	})
	t.Run("ok/baseline", func(t *testing.T) {
		// The same device and key pass when nothing is spoiled, so each
		// refusal above is down to its one change.
		resp, secret := s.start(t, e, "sim-tpm-1")
		got, err := dev.FinishTPM(testCtx(t), s.finishRequest(t, resp.ChallengeID, secret, key, resp.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		checkEnrolled(t, e, got, "sim-tpm-1", key.Signer().Public(), store.AttestTPM)
	})
}
