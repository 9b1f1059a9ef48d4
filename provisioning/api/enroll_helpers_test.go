package api_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// deviceClient is what a device holds: the server's URL and the root that
// signs its certificate, no operator credentials.
func deviceClient(t testing.TB, e *apitest.Env) *enroll.Client {
	t.Helper()
	c := enroll.New(e.URL, e.CA.RootPool())
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rotationClient presents cert, as a device rotating its certificate does.
func rotationClient(t testing.TB, e *apitest.Env, cert *tls.Certificate) *enroll.Client {
	t.Helper()
	c := deviceClient(t, e).WithClientCertificate(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return cert, nil
	})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// wantRefusal fails unless err is an *enroll.Error with the code and
// status.
func wantRefusal(t testing.TB, err error, status int, code wire.Code) {
	t.Helper()
	var e *enroll.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want refusal %d %s", err, status, code)
	}
	if e.Code != code || e.Status != status || !enroll.IsCode(err, code) {
		t.Fatalf("refusal = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	if e.Message == "" {
		t.Errorf("refusal %s has no message", code)
	}
}

// checkEnrolled verifies an answer: a leaf for the device, chaining to the
// device CA, recorded active in the registry with the attestation.
func checkEnrolled(t testing.TB, e *apitest.Env, got wire.Issued, id string, key crypto.PublicKey, how store.Attestation) store.Certificate {
	t.Helper()
	certs := pki.ParseCerts(t, []byte(got.Chain))
	if len(certs) != 2 {
		t.Fatalf("chain holds %d certificates, want leaf and device CA", len(certs))
	}
	leaf := certs[0]
	if gotID, err := identity.FromCertificate(leaf); err != nil || gotID != id {
		t.Fatalf("leaf identity = %q, %v; want %s", gotID, err, id)
	}
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key) {
		t.Fatal("leaf does not certify the device's key")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: e.CA.DevicePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("leaf does not chain to the device CA: %v", err)
	}
	rec, err := e.DB.Certificate(t.Context(), got.Serial)
	if err != nil {
		t.Fatalf("issued certificate not recorded: %v", err)
	}
	if rec.DeviceID != id || rec.Status != store.CertActive || rec.Attestation != how || rec.Fingerprint != got.Fingerprint {
		t.Fatalf("record = %+v, want active %s certificate of %s", rec, how, id)
	}
	return rec
}

// tlsCert pairs an issued chain with its key, as a device hands it to TLS.
func tlsCert(t testing.TB, got wire.Issued, key crypto.Signer) *tls.Certificate {
	t.Helper()
	var c tls.Certificate
	for _, x := range pki.ParseCerts(t, []byte(got.Chain)) {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	c.PrivateKey = key
	return &c
}

// tokenGroup creates a group that allows tokens and n tokens for it.
func tokenGroup(t testing.TB, e *apitest.Env, group string, n int, ttl time.Duration) []string {
	t.Helper()
	if _, err := e.DB.PutGroup(t.Context(), store.Group{Name: group, AllowTokens: true}, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	tokens, err := e.DB.CreateTokens(t.Context(), group, n, ttl, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// tpmEnv starts the API with m's root as the EK manufacturer root.
func tpmEnv(t testing.TB, m *softtpm.Manufacturer, cfg api.Config) *apitest.Env {
	t.Helper()
	cfg.EKRoots = m.Pool()
	return apitest.Start(t, apitest.Options{Config: cfg})
}

// preRegister imports a device whose TPM has the EK ekPub.
func preRegister(t testing.TB, e *apitest.Env, id string, ekPub crypto.PublicKey) {
	t.Helper()
	hash, err := attest.EKHash(ekPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.DB.ImportDevices(t.Context(), []store.Device{{ID: id, EKHash: hash}}, store.Actor{Name: "factory"}); err != nil {
		t.Fatal(err)
	}
}

// unchangedBut asserts that a refused request left devices, certificates
// and the audit log alone. Unlike assertUnchanged it allows a serial to
// have been spent, which a refused token costs (the token is judged in the
// transaction that records the certificate). It returns the state it
// compared.
func unchangedBut(t *testing.T, e *apitest.Env, before snapshot) snapshot {
	t.Helper()
	after := take(t, e)
	if !sameJSON(before.devices, after.devices) {
		t.Errorf("devices changed:\nbefore %+v\nafter  %+v", before.devices, after.devices)
	}
	if !sameJSON(before.certs, after.certs) {
		t.Errorf("certificates changed: before %d, after %d", len(before.certs), len(after.certs))
	}
	if after.audit != before.audit {
		t.Errorf("audit log grew from %d to %d events", before.audit, after.audit)
	}
	return after
}
