package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestTokenEnrollment drives POST /v1/enroll/token over HTTPS: one success,
// then each refusal with its own code, none of which creates a device or a
// certificate.
func TestTokenEnrollment(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	dev := deviceClient(t, e)
	tokens := tokenGroup(t, e, "sim", 3, time.Hour)
	ctx := testCtx(t)

	var used string
	t.Run("ok/enroll", func(t *testing.T) {
		key := pki.Key(t)
		got, err := dev.EnrollToken(ctx, wire.TokenRequest{Token: tokens[0], DeviceID: "sim-1", CSR: pki.CSRPEM(t, key, "ignored")})
		if err != nil {
			t.Fatal(err)
		}
		checkEnrolled(t, e, got, "sim-1", &key.PublicKey, store.AttestToken)
		d, err := e.DB.Device(t.Context(), "sim-1")
		if err != nil || d.Group != "sim" || d.Status != store.DeviceActive {
			t.Fatalf("device = %+v, %v; want active in group sim", d, err)
		}
		list, err := e.DB.Tokens(t.Context(), "sim")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range list {
			if tk.Hash == store.HashToken(tokens[0]) && (tk.UsedBy != "sim-1" || tk.UsedAt.IsZero()) {
				t.Errorf("token not marked used by sim-1: %+v", tk)
			}
		}
		used = tokens[0]
	})

	// A token made to expire at once: the test waits on the clock, not
	// on a guess of how long the machine takes.
	short, err := e.DB.CreateTokens(t.Context(), "sim", 1, 20*time.Millisecond, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	waitPast(t, time.Now().Add(20*time.Millisecond))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	goodCSR := pki.CSRPEM(t, pki.Key(t), "ignored")
	tests := []struct {
		name   string
		req    wire.TokenRequest
		status int
		code   wire.Code
	}{
		{"error/replayed", wire.TokenRequest{Token: used, DeviceID: "sim-2", CSR: goodCSR}, http.StatusConflict, wire.CodeTokenReplayed},
		{"error/expired", wire.TokenRequest{Token: short[0], DeviceID: "sim-2", CSR: goodCSR}, http.StatusGone, wire.CodeTokenExpired},
		{"error/unknown", wire.TokenRequest{Token: store.TokenPrefix + strings.Repeat("A", 43), DeviceID: "sim-2", CSR: goodCSR}, http.StatusForbidden, wire.CodeTokenInvalid},
		{"error/not-a-token", wire.TokenRequest{Token: "letmein", DeviceID: "sim-2", CSR: goodCSR}, http.StatusForbidden, wire.CodeTokenInvalid},
		{"error/device-id-taken", wire.TokenRequest{Token: tokens[1], DeviceID: "sim-1", CSR: goodCSR}, http.StatusConflict, wire.CodeExists},
		{"error/invalid-device-id", wire.TokenRequest{Token: tokens[1], DeviceID: "sim/2", CSR: goodCSR}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/rsa-key", wire.TokenRequest{Token: tokens[1], DeviceID: "sim-2", CSR: pki.CSRPEM(t, rsaKey, "ignored")}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/csr-signature", wire.TokenRequest{Token: tokens[1], DeviceID: "sim-2", CSR: string(tamperSignature(t, []byte(goodCSR)))}, http.StatusForbidden, wire.CodeCSRSignature},
		{"error/csr-garbage", wire.TokenRequest{Token: tokens[1], DeviceID: "sim-2", CSR: "hello"}, http.StatusBadRequest, wire.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, e)
			_, err := dev.EnrollToken(ctx, tc.req)
			wantRefusal(t, err, tc.status, tc.code)
			unchangedBut(t, e, before)
		})
	}

	t.Run("ok/p384-key", func(t *testing.T) {
		got, err := dev.EnrollToken(ctx, wire.TokenRequest{Token: tokens[1], DeviceID: "sim-3", CSR: pki.CSRPEM(t, p384, "ignored")})
		if err != nil {
			t.Fatal(err)
		}
		checkEnrolled(t, e, got, "sim-3", &p384.PublicKey, store.AttestToken)
	})

	t.Run("error/group-now-requires-tpm", func(t *testing.T) {
		// The policy is judged when the token is used, not when it was made.
		if _, err := e.DB.PutGroup(t.Context(), store.Group{Name: "sim", RequireTPM: true}, store.Actor{Name: "test"}); err != nil {
			t.Fatal(err)
		}
		before := take(t, e)
		_, err := dev.EnrollToken(ctx, wire.TokenRequest{Token: tokens[2], DeviceID: "sim-4", CSR: goodCSR})
		wantRefusal(t, err, http.StatusForbidden, wire.CodePolicy)
		unchangedBut(t, e, before)
	})
}

// TestTokenRace uses one token from 20 concurrent devices: exactly one
// gets a certificate, the others hear token_replayed, and the registry
// holds exactly one certificate and one device.
func TestTokenRace(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	token := tokenGroup(t, e, "sim", 1, time.Hour)[0]
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := deviceClient(t, e)
			csr := pki.CSRPEM(t, pki.Key(t), "ignored")
			<-start
			_, errs[i] = c.EnrollToken(testCtx(t), wire.TokenRequest{Token: token, DeviceID: fmt.Sprintf("racer-%d", i), CSR: csr})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !enroll.IsCode(err, wire.CodeTokenReplayed):
			t.Errorf("loser got %v, want token_replayed", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d enrollments succeeded, want exactly 1", ok)
	}
	certs, err := e.DB.Certificates(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	devices, err := e.DB.Devices(t.Context(), store.DeviceFilter{Group: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || len(devices) != 1 || certs[0].DeviceID != devices[0].ID {
		t.Fatalf("registry holds %d certificates and %d devices, want one of each, matching", len(certs), len(devices))
	}
}

// waitPast returns once the clock has passed t. Expiry is a matter of the
// clock alone, so polling it is the event.
func waitPast(t testing.TB, deadline time.Time) {
	t.Helper()
	for !time.Now().After(deadline) {
		time.Sleep(time.Millisecond)
	}
}
