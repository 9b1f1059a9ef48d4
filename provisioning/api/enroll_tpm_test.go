package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// softAttempt is one enrollment by a soft TPM: the start answer and a
// finish request that passes every check, for a test to spoil.
type softAttempt struct {
	start wire.TPMStartResponse
	key   *ecdsa.PrivateKey
	req   wire.TPMFinishRequest
}

// softStart starts an enrollment of device id with s's EK certificate and
// prepares a correct finish. The registry supplies the activation secret
// in place of TPM2_ActivateCredential, which needs the TPM.
func softStart(t *testing.T, e *apitest.Env, m *softtpm.Manufacturer, s *softtpm.TPM, id string) softAttempt {
	t.Helper()
	ctx := testCtx(t)
	resp, err := deviceClient(t, e).StartTPM(ctx, wire.TPMStartRequest{DeviceID: id, EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: s.AKPublic})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return softPrepare(t, e, s, resp)
}

func softPrepare(t *testing.T, e *apitest.Env, s *softtpm.TPM, resp wire.TPMStartResponse) softAttempt {
	t.Helper()
	ch, err := e.DB.Challenge(t.Context(), resp.ChallengeID)
	if err != nil {
		t.Fatalf("challenge not stored: %v", err)
	}
	key := pki.Key(t)
	kp, att, sig := s.Certify(t, &key.PublicKey, softtpm.Attrs(false), resp.Nonce)
	return softAttempt{start: resp, key: key, req: wire.TPMFinishRequest{
		ChallengeID: resp.ChallengeID, Secret: ch.Secret, KeyPublic: kp, Attestation: att, Signature: sig, CSR: pki.CSRPEM(t, key, "ignored"),
	}}
}

// TestTPMEnrollmentSoft runs the TPM routes end to end over HTTPS with soft
// TPMs: by device ID with an EK certificate, by EK alone, and with a
// pre-registered EK public area.
func TestTPMEnrollmentSoft(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	dev := deviceClient(t, e)
	ctx := testCtx(t)

	finish := func(t *testing.T, id string, s *softtpm.TPM, a softAttempt) {
		t.Helper()
		got, err := dev.FinishTPM(ctx, a.req)
		if err != nil {
			t.Fatalf("finish: %v", err)
		}
		checkEnrolled(t, e, got, id, &a.key.PublicKey, store.AttestTPM)
		d, err := e.DB.Device(t.Context(), id)
		if err != nil || !bytes.Equal(d.AKPublic, s.AKPublic) {
			t.Fatalf("device %s does not remember its AK: %+v, %v", id, d, err)
		}
		if _, err := e.DB.Challenge(t.Context(), a.req.ChallengeID); err == nil {
			t.Error("challenge still live after enrollment")
		}
	}

	t.Run("ok/by-device-id", func(t *testing.T) {
		s := softtpm.New(t)
		preRegister(t, e, "tpm-1", &s.EK.PublicKey)
		before := time.Now()
		a := softStart(t, e, m, s, "tpm-1")
		if len(a.start.Nonce) != 32 || len(a.start.CredentialBlob) == 0 || len(a.start.EncryptedSecret) == 0 {
			t.Fatalf("start answer = %+v", a.start)
		}
		if a.start.ExpiresAt.Before(before.Add(api.DefaultChallengeTTL)) || a.start.ExpiresAt.After(time.Now().Add(api.DefaultChallengeTTL)) {
			t.Errorf("challenge expires at %s, want %s from now", a.start.ExpiresAt, api.DefaultChallengeTTL)
		}
		finish(t, "tpm-1", s, a)
	})
	t.Run("ok/by-ek", func(t *testing.T) {
		s := softtpm.New(t)
		preRegister(t, e, "tpm-2", &s.EK.PublicKey)
		a := softStart(t, e, m, s, "")
		finish(t, "tpm-2", s, a)
	})
	t.Run("ok/pre-registered-ek-public", func(t *testing.T) {
		s := softtpm.New(t)
		preRegister(t, e, "tpm-3", &s.EK.PublicKey)
		resp, err := dev.StartTPM(ctx, wire.TPMStartRequest{DeviceID: "tpm-3", EKPublic: softtpm.EKPublic(&s.EK.PublicKey), AKPublic: s.AKPublic})
		if err != nil {
			t.Fatal(err)
		}
		finish(t, "tpm-3", s, softPrepare(t, e, s, resp))
	})
	t.Run("ok/re-enroll-with-new-ak", func(t *testing.T) {
		// A device that lost its state enrolls again with its TPM.
		s := softtpm.New(t)
		preRegister(t, e, "tpm-4", &s.EK.PublicKey)
		finish(t, "tpm-4", s, softStart(t, e, m, s, "tpm-4"))
		s2 := softtpm.WithEK(t, s.EK)
		finish(t, "tpm-4", s2, softStart(t, e, m, s2, "tpm-4"))
	})
}

// TestTPMStartRefusals checks that each bad start gets its own code and
// writes nothing.
func TestTPMStartRefusals(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	noRoots := apitest.Start(t, apitest.Options{})
	s := softtpm.New(t)
	other := softtpm.New(t)
	preRegister(t, e, "tpm-1", &s.EK.PublicKey)
	preRegister(t, noRoots, "tpm-1", &s.EK.PublicKey)
	preRegister(t, e, "suspended-1", &other.EK.PublicKey)
	if _, err := e.DB.SetDeviceStatus(t.Context(), "suspended-1", store.DeviceSuspended, "test", store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	unrestricted := softtpm.Public2B(softtpm.ECCArea(t, &s.AK.PublicKey, softtpm.Attrs(false), tpm2.TPMAlgSHA256))
	stranger := softtpm.New(t)

	tests := []struct {
		name   string
		env    *apitest.Env
		req    wire.TPMStartRequest
		status int
		code   wire.Code
	}{
		{"error/ek-self-signed", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: softtpm.SelfSignedEKCert(t, s.EK), AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKUntrusted},
		{"error/ek-other-manufacturer", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: softtpm.NewManufacturer(t).EKCert(t, &s.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKUntrusted},
		{"error/ek-cert-garbage", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: []byte("not a certificate"), AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKUntrusted},
		{"error/ek-cert-without-roots", noRoots, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKUntrusted},
		{"error/ek-not-the-devices", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: m.EKCert(t, &stranger.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKNotAllowed},
		{"error/ek-on-no-allow-list", e, wire.TPMStartRequest{EKCert: m.EKCert(t, &stranger.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKNotAllowed},
		{"error/ek-public-not-registered", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKPublic: softtpm.EKPublic(&stranger.EK.PublicKey), AKPublic: s.AKPublic}, http.StatusForbidden, wire.CodeEKNotAllowed},
		{"error/ek-public-not-an-ek", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKPublic: s.AKPublic, AKPublic: s.AKPublic}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/ek-public-garbage", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKPublic: []byte{0, 3, 1, 2, 3}, AKPublic: s.AKPublic}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/no-ek", e, wire.TPMStartRequest{DeviceID: "tpm-1", AKPublic: s.AKPublic}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/ak-not-restricted", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: unrestricted}, http.StatusForbidden, wire.CodeAKAttributes},
		{"error/ak-garbage", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: []byte{1, 2, 3}}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/ak-missing", e, wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/unknown-device", e, wire.TPMStartRequest{DeviceID: "ghost", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusNotFound, wire.CodeNotFound},
		{"error/invalid-device-id", e, wire.TPMStartRequest{DeviceID: "a+b", EKCert: m.EKCert(t, &s.EK.PublicKey).Raw, AKPublic: s.AKPublic}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/device-suspended", e, wire.TPMStartRequest{DeviceID: "suspended-1", EKCert: m.EKCert(t, &other.EK.PublicKey).Raw, AKPublic: other.AKPublic}, http.StatusForbidden, wire.CodeDeviceNotActive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, tc.env)
			_, err := deviceClient(t, tc.env).StartTPM(testCtx(t), tc.req)
			wantRefusal(t, err, tc.status, tc.code)
			assertUnchanged(t, tc.env, before)
		})
	}
}

// TestTPMFinishRefusals spoils one part of an otherwise correct finish at
// a time: each gets its own code, and none writes anything, not even a
// serial.
func TestTPMFinishRefusals(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	short := tpmEnv(t, m, api.Config{ChallengeTTL: time.Second})
	s := softtpm.New(t)
	preRegister(t, e, "tpm-1", &s.EK.PublicKey)
	preRegister(t, short, "tpm-1", &s.EK.PublicKey)
	preRegister(t, e, "tpm-2", &softtpm.New(t).EK.PublicKey)
	otherAK := softtpm.New(t)
	dev := deviceClient(t, e)

	tests := []struct {
		name   string
		env    *apitest.Env
		spoil  func(t *testing.T, a *softAttempt)
		status int
		code   wire.Code
	}{
		{"error/secret-mismatch", e, func(t *testing.T, a *softAttempt) { a.req.Secret = bytes.Repeat([]byte{7}, 32) }, http.StatusForbidden, wire.CodeSecretMismatch},
		{"error/nonce-mismatch", e, func(t *testing.T, a *softAttempt) {
			a.req.KeyPublic, a.req.Attestation, a.req.Signature = s.Certify(t, &a.key.PublicKey, softtpm.Attrs(false), bytes.Repeat([]byte{1}, 32))
		}, http.StatusForbidden, wire.CodeNonceMismatch},
		{"error/name-mismatch", e, func(t *testing.T, a *softAttempt) {
			a.req.KeyPublic = softtpm.Public2B(softtpm.ECCArea(t, &pki.Key(t).PublicKey, softtpm.Attrs(false), tpm2.TPMAlgSHA256))
		}, http.StatusForbidden, wire.CodeNameMismatch},
		{"error/key-not-fixed-tpm", e, func(t *testing.T, a *softAttempt) {
			attrs := softtpm.Attrs(false)
			attrs.FixedTPM, attrs.FixedParent = false, false
			a.req.KeyPublic, a.req.Attestation, a.req.Signature = s.Certify(t, &a.key.PublicKey, attrs, a.start.Nonce)
		}, http.StatusForbidden, wire.CodeKeyAttributes},
		{"error/key-restricted", e, func(t *testing.T, a *softAttempt) {
			a.req.KeyPublic, a.req.Attestation, a.req.Signature = s.Certify(t, &a.key.PublicKey, softtpm.Attrs(true), a.start.Nonce)
		}, http.StatusForbidden, wire.CodeKeyAttributes},
		{"error/ak-signature-other-ak", e, func(t *testing.T, a *softAttempt) { a.req.Signature = otherAK.Sign(t, a.req.Attestation) }, http.StatusForbidden, wire.CodeAKSignature},
		{"error/tampered-attestation", e, func(t *testing.T, a *softAttempt) { a.req.Attestation[len(a.req.Attestation)-1] ^= 1 }, http.StatusForbidden, wire.CodeAKSignature},
		{"error/attestation-not-tpm-generated", e, func(t *testing.T, a *softAttempt) { a.req.Attestation[0] ^= 1 }, http.StatusBadRequest, wire.CodeAttestation},
		{"error/signature-garbage", e, func(t *testing.T, a *softAttempt) { a.req.Signature = []byte{0, 1} }, http.StatusBadRequest, wire.CodeAttestation},
		{"error/csr-key-mismatch", e, func(t *testing.T, a *softAttempt) { a.req.CSR = pki.CSRPEM(t, pki.Key(t), "ignored") }, http.StatusForbidden, wire.CodeCSRKeyMismatch},
		{"error/csr-signature", e, func(t *testing.T, a *softAttempt) { a.req.CSR = string(tamperSignature(t, []byte(a.req.CSR))) }, http.StatusForbidden, wire.CodeCSRSignature},
		{"error/csr-missing", e, func(t *testing.T, a *softAttempt) { a.req.CSR = "" }, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/secret-missing", e, func(t *testing.T, a *softAttempt) { a.req.Secret = nil }, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/unknown-challenge", e, func(t *testing.T, a *softAttempt) { a.req.ChallengeID = "00112233445566778899aabbccddeeff" }, http.StatusNotFound, wire.CodeNotFound},
		{"error/device-suspended-since-start", e, func(t *testing.T, a *softAttempt) {
			if _, err := e.DB.SetDeviceStatus(t.Context(), "tpm-1", store.DeviceSuspended, "test", store.Actor{Name: "test"}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = e.DB.SetDeviceStatus(context.Background(), "tpm-1", store.DeviceActive, "", store.Actor{Name: "test"})
			})
		}, http.StatusForbidden, wire.CodeDeviceNotActive},
		{"error/challenge-expired", short, func(t *testing.T, a *softAttempt) { waitPast(t, a.start.ExpiresAt) }, http.StatusGone, wire.CodeChallengeExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := softStart(t, tc.env, m, s, "tpm-1")
			tc.spoil(t, &a)
			before := take(t, tc.env)
			_, err := deviceClient(t, tc.env).FinishTPM(testCtx(t), a.req)
			wantRefusal(t, err, tc.status, tc.code)
			assertUnchanged(t, tc.env, before)
		})
	}

	t.Run("error/replayed", func(t *testing.T) {
		a := softStart(t, e, m, s, "tpm-1")
		if _, err := dev.FinishTPM(testCtx(t), a.req); err != nil {
			t.Fatal(err)
		}
		before := take(t, e)
		_, err := dev.FinishTPM(testCtx(t), a.req)
		wantRefusal(t, err, http.StatusConflict, wire.CodeChallengeReplayed)
		assertUnchanged(t, e, before)
	})
	t.Run("error/rotation-challenge-at-enrollment", func(t *testing.T) {
		// A rotation challenge does not finish an enrollment.
		a := softStart(t, e, m, s, "tpm-1")
		ch, err := e.DB.Challenge(t.Context(), a.req.ChallengeID)
		if err != nil {
			t.Fatal(err)
		}
		ch.ID, ch.Purpose = "ffeeddccbbaa99887766554433221100", store.PurposeRotate
		if err := e.DB.PutChallenge(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
		a.req.ChallengeID = ch.ID
		_, err = dev.FinishTPM(testCtx(t), a.req)
		wantRefusal(t, err, http.StatusNotFound, wire.CodeNotFound)
	})
}

// TestTPMFinishRace sends one correct finish eight times at once: one
// certificate, seven challenge_replayed.
func TestTPMFinishRace(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	s := softtpm.New(t)
	preRegister(t, e, "tpm-1", &s.EK.PublicKey)
	a := softStart(t, e, m, s, "tpm-1")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := deviceClient(t, e)
			<-gate
			_, errs[i] = c.FinishTPM(context.Background(), a.req)
		}()
	}
	close(gate)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !enroll.IsCode(err, wire.CodeChallengeReplayed) {
			t.Errorf("loser got %v, want challenge_replayed", err)
		}
	}
	certs, err := e.DB.Certificates(t.Context(), "tpm-1")
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(certs) != 1 {
		t.Fatalf("%d finishes succeeded and %d certificates recorded, want 1 and 1", ok, len(certs))
	}
}
