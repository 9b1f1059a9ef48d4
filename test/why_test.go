package test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestDeviceWhy refuses devices for each common cause with Debian's
// mosquitto_pub and asks `fleetgate device why` about each: the device
// hears only "not authorized" (or a TLS alert), the operator hears the
// cause and the next step.
func TestDeviceWhy(t *testing.T) {
	s := startServer(t, t.TempDir())
	dir := t.TempDir()
	deviceCA := pki.LoadCA(t, s.CAFile("device-ca.crt"), s.CAFile("device-ca.key"))

	refused := func(t *testing.T, id, cert, key string) {
		t.Helper()
		out, code := s.pub(t, id, cert, key, "-t", "devices/"+id+"/x", "-m", "hello")
		if code == 0 || !strings.Contains(out, "not authori") {
			t.Fatalf("connect as %s was not refused with \"not authorized\" (exit %d):\n%s", id, code, out)
		}
		for _, leak := range []string{"suspend", "expired", "mismatch", "supersede"} {
			if strings.Contains(strings.ToLower(out), leak) {
				t.Fatalf("the device learnt why (%q):\n%s", leak, out)
			}
		}
	}

	t.Run("error/client id of another device", func(t *testing.T) {
		cert, key := s.Device("pump-17")
		s.MustCtl("device", "register", "pump-18") // pump-17's certificate was put on pump-18
		refused(t, "pump-18", cert, key)
		d := s.awaitWhy(t, "pump-17", `client ID "pump-18" does not match the certificate's identity "pump-17"`)
		if d.Status != "active" || !strings.Contains(d.NextStep, `"pump-17"`) || d.Refusals[0].ClaimedClientID != "pump-18" {
			t.Fatalf("diagnosis %+v", d)
		}
		// Asking about the device whose ID was claimed finds the attempt too.
		s.awaitWhy(t, "pump-18", `client ID "pump-18" does not match`)
	})

	t.Run("error/suspended device", func(t *testing.T) {
		cert, key := s.Device("pump-20")
		s.MustCtl("device", "suspend", "pump-20", "--reason", "lost")
		refused(t, "pump-20", cert, key)
		d := s.awaitWhy(t, "pump-20", `device suspended by `, `reason "lost"`)
		if !strings.Contains(d.NextStep, "fleetgate device resume pump-20") || len(d.Refusals) == 0 || d.Refusals[0].Check != "device_suspended" {
			t.Fatalf("diagnosis %+v", d)
		}
	})

	t.Run("error/expired certificate", func(t *testing.T) {
		s.MustCtl("device", "register", "pump-21")
		c := deviceCA.Device(t, "pump-21", pki.Expired)
		cert, key := pki.WriteFiles(t, dir, "pump-21-expired", c)
		// crypto/tls refuses it in the handshake: the device gets a TLS
		// alert, never a CONNACK.
		if out, code := s.pub(t, "pump-21", cert, key, "-t", "devices/pump-21/x", "-m", "x"); code == 0 {
			t.Fatalf("expired certificate accepted:\n%s", out)
		}
		d := s.awaitWhy(t, "pump-21", "certificate expired 1 h ago")
		if !strings.Contains(d.NextStep, "re-enrols on its next start") || d.Refusals[0].Serial == "" || d.Refusals[0].Fingerprint == "" {
			t.Fatalf("diagnosis %+v", d)
		}
	})

	t.Run("error/certificate from an unknown CA", func(t *testing.T) {
		s.MustCtl("device", "register", "pump-22")
		foreign := pki.Foreign(t)
		cert, key := pki.WriteFiles(t, dir, "pump-22-foreign", foreign.Device(t, "pump-22", nil))
		if out, code := s.pub(t, "pump-22", cert, key, "-t", "devices/pump-22/x", "-m", "x"); code == 0 {
			t.Fatalf("foreign certificate accepted:\n%s", out)
		}
		s.awaitWhy(t, "pump-22", "TLS handshake refused: certificate from an unknown CA (issuer "+foreign.Cert.Subject.String()+")")

		// One naming no registered device is listed by fingerprint and subject.
		stranger := foreign.Device(t, "stranger-9", nil)
		cert, key = pki.WriteFiles(t, dir, "stranger", stranger)
		s.pub(t, "stranger-9", cert, key, "-t", "x", "-m", "x")
		awaitUntil(t, func() bool {
			return strings.Contains(s.MustCtl("refusals", "list", "--unregistered"), "CN=stranger-9")
		}, func() string { return "stranger-9 in `refusals list --unregistered`" })
		out := s.MustCtl("refusals", "list", "--unregistered")
		if strings.Contains(out, "pump-22") {
			t.Fatalf("a registered device is listed as unregistered:\n%s", out)
		}
		t.Logf("fleetgate refusals list --unregistered:\n%s", out)
	})

	t.Run("error/certificate superseded by rotation", func(t *testing.T) {
		s.MustCtl("group", "put", "soft", "--allow-tokens") // admits software keys, so rotation needs no TPM
		oldCert, oldKey := s.Device("pump-23", "--group", "soft")
		old, err := tls.LoadX509KeyPair(oldCert, oldKey)
		if err != nil {
			t.Fatal(err)
		}
		key, csr, err := softwareCSR()
		if err != nil {
			t.Fatal(err)
		}
		c := enroll.New(s.API, s.Roots()).WithClientCertificate(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &old, nil })
		defer c.CloseIdleConnections()
		issued, err := c.FinishRotation(context.Background(), wire.RotationRequest{CSR: csr})
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		pair, err := chainPair(key, issued.Chain)
		if err != nil {
			t.Fatal(err)
		}
		newCert, newKey := pki.WriteFiles(t, dir, "pump-23-new", pair)
		// The first connect with the new certificate retires the old one.
		if out, code := s.pub(t, "pump-23", newCert, newKey, "-t", "devices/pump-23/x", "-m", "x"); code != 0 {
			t.Fatalf("rotated certificate refused (exit %d): %s", code, out)
		}
		awaitUntil(t, func() bool { return strings.Contains(s.MustCtl("device", "show", "pump-23"), "superseded") }, func() string { return "old certificate superseded" })
		refused(t, "pump-23", oldCert, oldKey)
		s.awaitWhy(t, "pump-23", "was superseded by rotation at", "the device is using its old certificate")
	})
}

// awaitWhy polls GET /v1/devices/{id}/why until its summary holds
// every part and a refusal is listed (brokers write refusals to the registry about once a second).
func (s *server) awaitWhy(t *testing.T, id string, parts ...string) wire.Diagnosis {
	t.Helper()
	var d wire.Diagnosis
	admin := adminClient(t, s)
	defer admin.CloseIdleConnections()
	awaitUntil(t, func() bool {
		var err error
		if d, err = admin.Why(t.Context(), id); err != nil {
			t.Fatalf("GET why %s: %v", id, err)
		}
		if len(d.Refusals) == 0 {
			return false // every case here has a refusal to wait for
		}
		for _, p := range parts {
			if !strings.Contains(d.Summary, p) {
				return false
			}
		}
		return true
	}, func() string {
		return "device why " + id + " to say " + strings.Join(parts, " … ") + "; last summary: " + d.Summary
	})
	// The CLI says the same in words.
	out := s.forTest(t).MustCtl("device", "why", id)
	if !strings.Contains(out, d.Summary) || !strings.Contains(out, d.NextStep) {
		t.Fatalf("fleetgate device why %s lacks the summary or next step:\n%s", id, out)
	}
	t.Logf("fleetgate device why %s:\n%s", id, out)
	return d
}

// awaitUntil polls cond every 100 ms for at most 15 s.
func awaitUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
