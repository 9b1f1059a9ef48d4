package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestLifecycle walks one device through the whole operator API with the
// real client: register, list, show, issue, suspend, resume, revoke, audit.
func TestLifecycle(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)

	bundle, err := e.Anonymous.CA(ctx)
	if err != nil {
		t.Fatalf("CA without a client certificate: %v", err)
	}
	if bundle.Root != string(e.CA.RootPEM()) || bundle.DeviceCA != string(e.CA.DeviceChainPEM()) {
		t.Errorf("CA bundle does not match the CA's files")
	}

	d, err := e.Admin.RegisterDevice(ctx, wire.RegisterRequest{
		ID: "sensor-1", Group: "line-a",
		Metadata:  map[string]string{"site": "plant-7"},
		Publish:   []string{"fleet/telemetry/#"},
		Subscribe: []string{"fleet/commands/+"},
	})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if d.ID != "sensor-1" || d.Status != wire.DeviceActive || d.Group != "line-a" ||
		d.Metadata["site"] != "plant-7" || !slices.Equal(d.Publish, []string{"fleet/telemetry/#"}) || d.CreatedAt.IsZero() {
		t.Errorf("registered device = %+v", d)
	}
	mustRegister(t, e, "sensor-2")

	for _, tc := range []struct {
		name   string
		filter client.DeviceFilter
		want   []string
	}{
		{"ok/all", client.DeviceFilter{}, []string{"sensor-1", "sensor-2"}},
		{"ok/group", client.DeviceFilter{Group: "line-a"}, []string{"sensor-1"}},
		{"ok/status-active", client.DeviceFilter{Status: wire.DeviceActive}, []string{"sensor-1", "sensor-2"}},
		{"ok/status-suspended", client.DeviceFilter{Status: wire.DeviceSuspended}, []string{}},
	} {
		t.Run("list/"+tc.name, func(t *testing.T) {
			list, err := e.Admin.Devices(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, d := range list {
				ids = append(ids, d.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("devices = %v, want %v", ids, tc.want)
			}
		})
	}

	csrPEM, key := newCSR(t, "whatever-the-csr-says")
	issued, err := e.Admin.IssueCertificate(ctx, "sensor-1", csrPEM, 48*time.Hour)
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	checkIssued(t, e, issued, "sensor-1", &key.PublicKey, 48*time.Hour)

	detail, err := e.Admin.Device(ctx, "sensor-1")
	if err != nil {
		t.Fatalf("show: %v", err)
	}
	if len(detail.Certificates) != 1 || detail.Certificates[0].Serial != issued.Serial ||
		detail.Certificates[0].Status != wire.CertActive || detail.Certificates[0].Attestation != wire.AttestOperator {
		t.Fatalf("device certificates = %+v", detail.Certificates)
	}
	if _, body := rawAnswer(t, e, http.MethodGet, wire.Expand(wire.PathDevice, "sensor-1"), nil); bytes.Contains(body, []byte(`"der"`)) {
		t.Errorf("device detail carries DER; listings should not: %s", body)
	}
	one, err := e.Admin.Certificate(ctx, issued.Serial)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	if one.PEM != issued.Certificate || one.DeviceID != "sensor-1" || one.Fingerprint != issued.Fingerprint {
		t.Errorf("certificate record = %+v", one)
	}

	if d, err := e.Admin.Suspend(ctx, "sensor-1", "maintenance"); err != nil || d.Status != wire.DeviceSuspended || d.Reason != "maintenance" {
		t.Fatalf("suspend = %+v, %v", d, err)
	}
	if list, err := e.Admin.Devices(ctx, client.DeviceFilter{Status: wire.DeviceSuspended}); err != nil || len(list) != 1 {
		t.Errorf("suspended devices = %v, %v; want sensor-1", list, err)
	}
	if d, err := e.Admin.Resume(ctx, "sensor-1", ""); err != nil || d.Status != wire.DeviceActive {
		t.Fatalf("resume = %+v, %v", d, err)
	}
	if d, err := e.Admin.Revoke(ctx, "sensor-1", "decommissioned"); err != nil || d.Status != wire.DeviceRevoked {
		t.Fatalf("revoke = %+v, %v", d, err)
	}
	certs, err := e.Admin.Certificates(ctx, "sensor-1")
	if err != nil || len(certs) != 1 || certs[0].Status != wire.CertRevoked || certs[0].Reason != "decommissioned" {
		t.Errorf("certificates after device revocation = %+v, %v; want one revoked", certs, err)
	}

	// Revoking one certificate leaves its device active.
	second := mustIssue(t, e, "sensor-2")
	c, err := e.Admin.RevokeCertificate(ctx, second.Serial, "key compromised")
	if err != nil || c.Status != wire.CertRevoked || c.Reason != "key compromised" {
		t.Fatalf("revoke certificate = %+v, %v", c, err)
	}
	if d, err := e.Admin.Device(ctx, "sensor-2"); err != nil || d.Device.Status != wire.DeviceActive {
		t.Errorf("sensor-2 after its certificate's revocation = %+v, %v; want active", d.Device, err)
	}
	all, err := e.Admin.Certificates(ctx, "")
	if err != nil || len(all) != 2 {
		t.Errorf("all certificates = %d, %v; want 2", len(all), err)
	}

	checkAudit(t, e, issued.Serial)
}

// checkIssued verifies an issued certificate the way a device and the
// broker will: it chains to the device CA, names the device, holds the
// CSR's key and matches the registry.
func checkIssued(t *testing.T, e *apitest.Env, issued wire.Issued, id string, pub *ecdsa.PublicKey, lifetime time.Duration) {
	t.Helper()
	leaves := pki.ParseCerts(t, []byte(issued.Certificate))
	chain := pki.ParseCerts(t, []byte(issued.Chain))
	if len(leaves) != 1 || len(chain) != 2 || !chain[0].Equal(leaves[0]) || !chain[1].Equal(e.CA.DeviceCA()) {
		t.Fatalf("got %d leaf and %d chain certificates; want the leaf, then leaf + device CA", len(leaves), len(chain))
	}
	leaf := leaves[0]
	intermediates := x509.NewCertPool()
	intermediates.AddCert(chain[1])
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: e.CA.DevicePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Errorf("leaf does not chain to the device CA: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: e.CA.RootPool(), Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Errorf("chain does not verify to the root: %v", err)
	}
	if got, err := identity.FromCertificate(leaf); err != nil || got != id {
		t.Errorf("certificate names %q (%v), want %q", got, err, id)
	}
	if got, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !got.Equal(pub) {
		t.Errorf("certificate key is not the CSR's key")
	}
	if issued.Serial != ca.SerialHex(leaf) || issued.Fingerprint != ca.Fingerprint(leaf) {
		t.Errorf("serial/fingerprint %s/%s do not match the certificate", issued.Serial, issued.Fingerprint)
	}
	if got := issued.NotAfter.Sub(issued.NotBefore); got < lifetime || got > lifetime+5*time.Minute {
		t.Errorf("validity %s, want about %s", got, lifetime)
	}
	rec, err := e.DB.Certificate(t.Context(), issued.Serial)
	if err != nil || rec.DeviceID != id || !leaf.Equal(mustParse(t, rec.DER)) {
		t.Errorf("registry record = %+v, %v", rec, err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAudit checks that every change was recorded with the operator's name
// and address, and that the query parameters filter.
func checkAudit(t *testing.T, e *apitest.Env, serial string) {
	t.Helper()
	ctx := testCtx(t)
	events, err := e.Admin.Audit(ctx, client.AuditQuery{Target: "sensor-1"})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
		host, _, err := net.SplitHostPort(ev.Remote)
		if ev.Actor != "admin" || err != nil || host != "127.0.0.1" {
			t.Errorf("event %s: actor %q remote %q; want admin from 127.0.0.1", ev.Action, ev.Actor, ev.Remote)
		}
	}
	for _, want := range []string{"device.register", "device.suspend", "device.resume", "device.revoke"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit of sensor-1 = %v, missing %s", actions, want)
		}
	}

	for _, tc := range []struct {
		name string
		q    client.AuditQuery
		want func([]wire.AuditEvent) bool
	}{
		{"ok/action", client.AuditQuery{Action: "device.register"}, func(ev []wire.AuditEvent) bool {
			return len(ev) == 2 && ev[0].Target == "sensor-1" && ev[1].Target == "sensor-2"
		}},
		{"ok/cert-target", client.AuditQuery{Target: serial}, func(ev []wire.AuditEvent) bool {
			return len(ev) >= 1 && strings.HasPrefix(ev[0].Action, "cert.")
		}},
		{"ok/limit", client.AuditQuery{Limit: 1}, func(ev []wire.AuditEvent) bool { return len(ev) == 1 }},
		{"ok/since-future", client.AuditQuery{Since: time.Now().Add(time.Hour)}, func(ev []wire.AuditEvent) bool { return len(ev) == 0 }},
	} {
		t.Run("audit/"+tc.name, func(t *testing.T) {
			ev, err := e.Admin.Audit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(ev) {
				t.Errorf("events = %+v", ev)
			}
		})
	}
}
