package test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// enrollmentRows attack the device routes of the provisioning API: the
// token path, rotation and the first step of TPM enrollment.
func enrollmentRows() []attackRow {
	return []attackRow{
		{name: "error/token enrollment with a malformed CSR", run: malformedCSR},
		{name: "error/replayed token", run: replayedToken},
		{name: "error/expired token", run: expiredToken},
		{name: "error/token for a group that requires TPM", run: tokenGroupRequiresTPM},
		{name: "error/20 concurrent uses of one token yield exactly one certificate", run: concurrentToken},
		{name: "error/unknown token", run: unknownToken},
		{name: "error/rotation with a revoked device's certificate", run: rotationRevoked},
		{name: "error/TPM start with a self-signed EK certificate", run: tpmSelfSignedEK},
		{name: "error/TPM start with an EK not on the allow-list", run: tpmEKNotAllowed},
	}
}

// malformedCSR: a CSR that does not parse is refused and does not spend
// the token, which then enrolls a device.
func malformedCSR(t *testing.T, e *attackEnv) {
	e.softGroup(t, "atk-soft-csr")
	tok := e.tokens(t, "atk-soft-csr", 1, time.Hour)[0]
	ctx, cancel := context.WithTimeout(context.Background(), attackWait)
	defer cancel()
	garbage := "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n"
	_, err := e.enrollClient().EnrollToken(ctx, wire.TokenRequest{Token: tok, DeviceID: "atk-csr-bad", CSR: garbage})
	expectCode(t, err, wire.CodeBadRequest)
	e.expectNoDevice(t, "atk-csr-bad")
	if _, err := e.enroll(t, tok, "atk-csr-good"); err != nil {
		t.Fatalf("the token was spent by the refused request: %v", err)
	}
}

// replayedToken: a token enrolls one device; the second use is refused.
func replayedToken(t *testing.T, e *attackEnv) {
	e.softGroup(t, "atk-soft-replay")
	tok := e.tokens(t, "atk-soft-replay", 1, time.Hour)[0]
	if _, err := e.enroll(t, tok, "atk-replay-1"); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := e.enroll(t, tok, "atk-replay-2")
	expectCode(t, err, wire.CodeTokenReplayed)
	e.expectNoDevice(t, "atk-replay-2")
}

// expiredToken: a token with a one-second lifetime is refused once the
// clock has passed it.
func expiredToken(t *testing.T, e *attackEnv) {
	e.softGroup(t, "atk-soft-expiry")
	tok := e.tokens(t, "atk-soft-expiry", 1, time.Second)[0]
	// The server stamped the token before the CLI returned, on this
	// machine's clock: it has expired one second (plus a margin) from now.
	<-time.After(1200 * time.Millisecond)
	_, err := e.enroll(t, tok, "atk-expired")
	expectCode(t, err, wire.CodeTokenExpired)
	e.expectNoDevice(t, "atk-expired")
}

// tokenGroupRequiresTPM: a token made while its group allowed software
// keys is refused once the group requires a TPM.
func tokenGroupRequiresTPM(t *testing.T, e *attackEnv) {
	e.softGroup(t, "atk-soft-tpm")
	tok := e.tokens(t, "atk-soft-tpm", 1, time.Hour)[0]
	e.forTest(t).MustCtl("group", "put", "atk-soft-tpm", "--require-tpm")
	_, err := e.enroll(t, tok, "atk-tpm-token")
	expectCode(t, err, wire.CodePolicy)
	e.expectNoDevice(t, "atk-tpm-token")
}

// unknownToken: a well-formed token the server never made.
func unknownToken(t *testing.T, e *attackEnv) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	_, err := e.enroll(t, "fgt_"+base64.RawURLEncoding.EncodeToString(raw), "atk-unknown-token")
	expectCode(t, err, wire.CodeTokenInvalid)
	e.expectNoDevice(t, "atk-unknown-token")
}

// concurrentToken: 20 devices race with one token; exactly one enrolls and
// the registry holds exactly one device and one certificate of the group.
func concurrentToken(t *testing.T, e *attackEnv) {
	const n, group = 20, "atk-soft-race"
	e.softGroup(t, group)
	tok := e.tokens(t, group, 1, time.Hour)[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range n {
		id := "atk-race-tok-" + itoa(i)
		pair, csr := csrFor(t, id)
		wg.Go(func() {
			_, err := e.enrollCSR(pair, tok, id, csr)
			code := "issued"
			var refusal *enroll.Error
			switch {
			case errors.As(err, &refusal):
				code = string(refusal.Code)
			case err != nil:
				code = err.Error()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("answers to %d concurrent uses of one token: %v", n, codes)
	if codes["issued"] != 1 || codes[string(wire.CodeTokenReplayed)] != n-1 {
		t.Fatalf("answers %v; want 1 issued and %d %s", codes, n-1, wire.CodeTokenReplayed)
	}
	var devices struct {
		Devices []struct{ ID string } `json:"devices"`
	}
	decodeJSON(t, e.forTest(t).MustCtl("device", "list", "--group", group, "--json"), &devices)
	if len(devices.Devices) != 1 {
		t.Fatalf("group %s holds %d devices, want 1: %+v", group, len(devices.Devices), devices.Devices)
	}
	var certs struct {
		Certificates []struct{ Serial string } `json:"certificates"`
	}
	decodeJSON(t, e.forTest(t).MustCtl("cert", "list", "--device", devices.Devices[0].ID, "--json"), &certs)
	if len(certs.Certificates) != 1 {
		t.Fatalf("device %s holds %d certificates, want 1", devices.Devices[0].ID, len(certs.Certificates))
	}
}

// rotationRevoked: a device enrolled by token rotates over mTLS while
// active; once revoked, its certificate no longer authenticates a
// rotation.
func rotationRevoked(t *testing.T, e *attackEnv) {
	const id = "atk-rotate"
	e.softGroup(t, "atk-soft-rotate")
	cert, err := e.enroll(t, e.tokens(t, "atk-soft-rotate", 1, time.Hour)[0], id)
	if err != nil {
		t.Fatal(err)
	}
	c := e.enrollClient().WithClientCertificate(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil })
	rotate := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), attackWait)
		defer cancel()
		_, csr := csrFor(t, id)
		_, err := c.FinishRotation(ctx, wire.RotationRequest{CSR: csr})
		c.CloseIdleConnections() // the next call makes a new handshake
		return err
	}
	if err := rotate(); err != nil {
		t.Fatalf("rotation of the active device: %v", err)
	}
	e.forTest(t).MustCtl("device", "revoke", id, "--reason", "attack matrix: rotation")
	expectCode(t, rotate(), wire.CodeUnauthenticated, wire.CodeDeviceNotActive)
}
