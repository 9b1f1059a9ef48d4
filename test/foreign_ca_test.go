package test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestForeignCAFleet sets up a secure-element fleet the way the README
// tells an operator to: the chip vendor's root and issuing intermediate
// registered for a group with `fleetgate foreign-ca put`, and a chip's
// factory certificate (which we did not issue) publishing with Debian's
// mosquitto_pub; the device appears in the registry, audited, and an
// operator's revocation keeps it out.
func TestForeignCAFleet(t *testing.T) {
	srv := startServer(t, t.TempDir())
	dir := t.TempDir()
	root := pki.NewCA(t, "chip vendor root")
	inter := root.Intermediate(t, "chip vendor issuing CA")
	chip := inter.Device(t, "se-0001", func(c *x509.Certificate) { c.URIs = nil })
	keyDER, err := x509.MarshalPKCS8PrivateKey(chip.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certs := write("vendor.pem", &pem.Block{Type: "CERTIFICATE", Bytes: root.Cert.Raw}, &pem.Block{Type: "CERTIFICATE", Bytes: inter.Cert.Raw})
	chipCert := write("se.crt", &pem.Block{Type: "CERTIFICATE", Bytes: chip.Leaf.Raw}, &pem.Block{Type: "CERTIFICATE", Bytes: inter.Cert.Raw})
	chipKey := write("se.key", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})

	out := srv.MustCtl("foreign-ca", "put", "chipco", "--group", "sensors", "--certs", certs, "--first-connect")
	if !strings.Contains(out, "foreign CA chipco: group=sensors id_from=cn first_connect=true") {
		t.Fatalf("foreign-ca put: %s", out)
	}
	// The broker reads the registered CAs every few seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, code := srv.pub(t, "se-0001", chipCert, chipKey, "-t", "devices/se-0001/up", "-m", "hello")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chip never admitted: exit %d: %s", code, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var detail wire.DeviceDetail
	if err := json.Unmarshal([]byte(srv.MustCtl("device", "show", "se-0001", "--json")), &detail); err != nil {
		t.Fatal(err)
	}
	if detail.Device.Group != "sensors" || len(detail.Certificates) != 1 || detail.Certificates[0].Attestation != wire.AttestForeign {
		t.Fatalf("registered device = %+v", detail)
	}
	if audit := srv.MustCtl("audit", "--target", "se-0001"); !strings.Contains(audit, "device.register_foreign") {
		t.Fatalf("audit: %s", audit)
	}
	srv.MustCtl("device", "revoke", "se-0001", "--reason", "returned")
	if got, code := srv.pub(t, "se-0001", chipCert, chipKey, "-t", "devices/se-0001/up", "-m", "again"); code == 0 {
		t.Fatalf("revoked foreign device published: %s", got)
	}
}
