package api_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// enrollByToken enrolls a software device and returns its TLS certificate.
func enrollByToken(t *testing.T, e *apitest.Env, token, id string) (*tls.Certificate, wire.Issued) {
	t.Helper()
	key := pki.Key(t)
	got, err := deviceClient(t, e).EnrollToken(testCtx(t), wire.TokenRequest{Token: token, DeviceID: id, CSR: pki.CSRPEM(t, key, "ignored")})
	if err != nil {
		t.Fatalf("enroll %s: %v", id, err)
	}
	return tlsCert(t, got, key), got
}

// TestSoftwareRotation rotates a token-enrolled device's software key over
// mTLS: the new certificate supersedes the old one, which stays active; a
// retry with the same key returns the same certificate.
func TestSoftwareRotation(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	tokens := tokenGroup(t, e, "sim", 3, time.Hour)
	cert1, first := enrollByToken(t, e, tokens[0], "sim-1")
	rc := rotationClient(t, e, cert1)
	ctx := testCtx(t)
	key2 := pki.Key(t)

	var second wire.Issued
	t.Run("ok/rotate", func(t *testing.T) {
		var err error
		second, err = rc.FinishRotation(ctx, wire.RotationRequest{CSR: pki.CSRPEM(t, key2, "ignored")})
		if err != nil {
			t.Fatal(err)
		}
		rec := checkEnrolled(t, e, second, "sim-1", &key2.PublicKey, store.AttestToken)
		if rec.Supersedes != first.Serial || rec.KeyHash == "" {
			t.Errorf("new record supersedes %q with key hash %q, want %s and a hash", rec.Supersedes, rec.KeyHash, first.Serial)
		}
		old, err := e.DB.Certificate(t.Context(), first.Serial)
		if err != nil || old.Status != store.CertActive {
			t.Errorf("old certificate = %s, %v; want it still active until the new one is used", old.Status, err)
		}
	})
	t.Run("ok/retry-same-key", func(t *testing.T) {
		before, _ := e.DB.Certificates(t.Context(), "sim-1")
		// A new CSR for the same key, as an agent that lost the reply makes.
		again, err := rc.FinishRotation(ctx, wire.RotationRequest{CSR: pki.CSRPEM(t, key2, "ignored")})
		if err != nil {
			t.Fatal(err)
		}
		if again.Serial != second.Serial || again.Chain != second.Chain {
			t.Errorf("retry issued %s, want the same %s", again.Serial, second.Serial)
		}
		after, _ := e.DB.Certificates(t.Context(), "sim-1")
		if len(after) != len(before) {
			t.Errorf("retry recorded a certificate: %d -> %d", len(before), len(after))
		}
	})
	t.Run("ok/new-certificate-authenticates", func(t *testing.T) {
		// The broker marks the old one superseded on first use of the new.
		if _, err := e.DB.MarkSuperseded(t.Context(), "sim-1", second.Serial); err != nil {
			t.Fatal(err)
		}
		key3 := pki.Key(t)
		third, err := rotationClient(t, e, tlsCert(t, second, key2)).FinishRotation(ctx, wire.RotationRequest{CSR: pki.CSRPEM(t, key3, "ignored")})
		if err != nil {
			t.Fatal(err)
		}
		if rec := checkEnrolled(t, e, third, "sim-1", &key3.PublicKey, store.AttestToken); rec.Supersedes != second.Serial {
			t.Errorf("supersedes %q, want %s", rec.Supersedes, second.Serial)
		}
	})

	cert2, _ := enrollByToken(t, e, tokens[1], "sim-2")
	if _, err := e.Admin.Revoke(ctx, "sim-2", "stolen"); err != nil {
		t.Fatal(err)
	}
	cert3, _ := enrollByToken(t, e, tokens[2], "sim-3")
	// A device enrolled by an operator into a group without tokens.
	if _, err := e.Admin.RegisterDevice(ctx, wire.RegisterRequest{ID: "plain-1", Group: "line-a"}); err != nil {
		t.Fatal(err)
	}
	plainKey := pki.Key(t)
	plainIssued, err := e.Admin.IssueCertificate(ctx, "plain-1", []byte(pki.CSRPEM(t, plainKey, "ignored")), 0)
	if err != nil {
		t.Fatal(err)
	}
	plain := tlsCert(t, wire.Issued{Chain: plainIssued.Chain}, plainKey)
	adminCert := &e.AdminTLS.Certificates[0]

	tests := []struct {
		name   string
		cert   *tls.Certificate // nil: none
		req    wire.RotationRequest
		start  bool
		status int
		code   wire.Code
	}{
		{"error/no-client-cert", nil, wire.RotationRequest{CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusUnauthorized, wire.CodeUnauthenticated},
		{"error/operator-cert", adminCert, wire.RotationRequest{CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusUnauthorized, wire.CodeUnauthenticated},
		{"error/revoked-device", cert2, wire.RotationRequest{CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusUnauthorized, wire.CodeUnauthenticated},
		{"error/superseded-cert", cert1, wire.RotationRequest{CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusUnauthorized, wire.CodeUnauthenticated},
		{"error/group-without-tokens", plain, wire.RotationRequest{CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusForbidden, wire.CodePolicy},
		{"error/tpm-fields-from-software-device", cert3, wire.RotationRequest{ChallengeID: "00112233445566778899aabbccddeeff", CSR: pki.CSRPEM(t, pki.Key(t), "ignored")}, false, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/start-for-software-device", cert3, wire.RotationRequest{}, true, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/csr-signature", cert3, wire.RotationRequest{CSR: string(tamperSignature(t, []byte(pki.CSRPEM(t, pki.Key(t), "ignored"))))}, false, http.StatusForbidden, wire.CodeCSRSignature},
		{"error/csr-missing", cert3, wire.RotationRequest{}, false, http.StatusBadRequest, wire.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := deviceClient(t, e)
			if tc.cert != nil {
				c = rotationClient(t, e, tc.cert)
			}
			before := take(t, e)
			var err error
			if tc.start {
				_, err = c.StartRotation(ctx)
			} else {
				_, err = c.FinishRotation(ctx, tc.req)
			}
			wantRefusal(t, err, tc.status, tc.code)
			assertUnchanged(t, e, before)
		})
	}
}

// TestTPMRotationSoft rotates a TPM device's key with a soft TPM: the
// nonce comes from the rotation start, the AK is the one remembered from
// enrollment.
func TestTPMRotationSoft(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	ctx := testCtx(t)
	s := softtpm.New(t)
	preRegister(t, e, "tpm-1", &s.EK.PublicKey)
	a := softStart(t, e, m, s, "tpm-1")
	first, err := deviceClient(t, e).FinishTPM(ctx, a.req)
	if err != nil {
		t.Fatal(err)
	}
	rc := rotationClient(t, e, tlsCert(t, first, a.key))

	rotation := func(t *testing.T, ak *softtpm.TPM) (wire.RotationChallenge, wire.RotationRequest) {
		t.Helper()
		ch, err := rc.StartRotation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := pki.Key(t)
		kp, att, sig := ak.Certify(t, &key.PublicKey, softtpm.Attrs(false), ch.Nonce)
		return ch, wire.RotationRequest{ChallengeID: ch.ChallengeID, KeyPublic: kp, Attestation: att, Signature: sig, CSR: pki.CSRPEM(t, key, "ignored")}
	}

	var req wire.RotationRequest
	var second wire.Issued
	t.Run("ok/rotate", func(t *testing.T) {
		_, req = rotation(t, s)
		second, err = rc.FinishRotation(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.DB.Certificate(t.Context(), second.Serial)
		if err != nil || rec.Attestation != store.AttestTPM || rec.Supersedes != first.Serial || rec.Status != store.CertActive {
			t.Fatalf("rotated record = %+v, %v", rec, err)
		}
	})
	t.Run("ok/retry-after-lost-reply", func(t *testing.T) {
		// The challenge is spent, yet the same request gets the same
		// certificate back.
		again, err := rc.FinishRotation(ctx, req)
		if err != nil || again.Serial != second.Serial {
			t.Fatalf("retry = %s, %v; want %s", again.Serial, err, second.Serial)
		}
	})

	otherAK := softtpm.New(t)
	tests := []struct {
		name   string
		spoil  func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest)
		status int
		code   wire.Code
	}{
		{"error/nonce-mismatch", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			key := pki.Key(t)
			r.KeyPublic, r.Attestation, r.Signature = s.Certify(t, &key.PublicKey, softtpm.Attrs(false), a.start.Nonce)
			r.CSR = pki.CSRPEM(t, key, "ignored")
		}, http.StatusForbidden, wire.CodeNonceMismatch},
		{"error/other-ak", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			r.Signature = otherAK.Sign(t, r.Attestation)
		}, http.StatusForbidden, wire.CodeAKSignature},
		{"error/no-challenge", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			r.ChallengeID = ""
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/csr-alone", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			*r = wire.RotationRequest{CSR: r.CSR}
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/enrollment-challenge", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			r.ChallengeID = softStart(t, e, m, s, "tpm-1").start.ChallengeID
		}, http.StatusNotFound, wire.CodeNotFound},
		{"error/spent-challenge-new-key", func(t *testing.T, ch wire.RotationChallenge, r *wire.RotationRequest) {
			if _, err := rc.FinishRotation(ctx, *r); err != nil {
				t.Fatal(err)
			}
			key := pki.Key(t)
			r.KeyPublic, r.Attestation, r.Signature = s.Certify(t, &key.PublicKey, softtpm.Attrs(false), ch.Nonce)
			r.CSR = pki.CSRPEM(t, key, "ignored")
		}, http.StatusConflict, wire.CodeChallengeReplayed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, r := rotation(t, s)
			tc.spoil(t, ch, &r)
			before := take(t, e)
			_, err := rc.FinishRotation(ctx, r)
			wantRefusal(t, err, tc.status, tc.code)
			assertUnchanged(t, e, before)
		})
	}
}
