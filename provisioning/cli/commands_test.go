package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestOperatorWorkflow drives every command in the order an operator would,
// checking tables, --json output and the registry behind them.
func TestOperatorWorkflow(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sensor-1.key")
	chainFile := filepath.Join(dir, "sensor-1.crt")
	var serial1, serial2 string

	t.Run("ok/device-register", func(t *testing.T) {
		r := run(t, e, "device", "register", "sensor-1", "--group", "line-a", "--meta", "site=plant-7",
			"--meta", "note=a=b", "--publish", "fleet/telemetry/#", "--subscribe", "fleet/commands/+").mustSucceed(t)
		for _, want := range []string{"sensor-1", "active", "line-a", "note=a=b,site=plant-7", "fleet/telemetry/#"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
		d, err := e.DB.Device(t.Context(), "sensor-1")
		if err != nil || d.Metadata["note"] != "a=b" || !slices.Equal(d.Subscribe, []string{"fleet/commands/+"}) {
			t.Errorf("registry has %+v, %v", d, err)
		}
	})
	t.Run("ok/device-register-json", func(t *testing.T) {
		var d store.Device
		decodeJSON(t, run(t, e, "device", "register", "sensor-2", "--group", "line-b", "--json").mustSucceed(t).stdout, &d)
		if d.ID != "sensor-2" || d.Status != store.DeviceActive {
			t.Errorf("device = %+v", d)
		}
	})
	t.Run("ok/device-list-table", func(t *testing.T) {
		rs := rows(run(t, e, "device", "list").mustSucceed(t).stdout)
		want := [][]string{{"ID", "STATUS", "GROUP", "CREATED", "REASON"}, {"sensor-1", "active", "line-a"}, {"sensor-2", "active", "line-b"}}
		if len(rs) != len(want) {
			t.Fatalf("rows = %q", rs)
		}
		for i := range want {
			if !slices.Equal(rs[i][:len(want[i])], want[i]) {
				t.Errorf("row %d = %q, want it to start with %q", i, rs[i], want[i])
			}
		}
	})
	t.Run("ok/device-list-json-filtered", func(t *testing.T) {
		var list wire.DeviceList
		decodeJSON(t, run(t, e, "device", "list", "--group", "line-b", "--json").mustSucceed(t).stdout, &list)
		if len(list.Devices) != 1 || list.Devices[0].ID != "sensor-2" {
			t.Errorf("devices = %+v", list.Devices)
		}
	})
	t.Run("ok/cert-issue-new-key", func(t *testing.T) {
		r := run(t, e, "cert", "issue", "sensor-1", "--new-key", keyFile, "--out", chainFile, "--lifetime", "48h").mustSucceed(t)
		info, err := os.Stat(keyFile)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, mode %v; want mode 0600", err, info.Mode())
		}
		keyPEM, _ := os.ReadFile(keyFile)
		block, _ := pem.Decode(keyPEM)
		if block == nil || block.Type != "PRIVATE KEY" {
			t.Fatalf("key file is not a PKCS#8 PEM key")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		key, ok := k.(*ecdsa.PrivateKey)
		if err != nil || !ok || key.Curve != elliptic.P256() {
			t.Fatalf("key = %T, %v; want ECDSA P-256", k, err)
		}
		chainPEM, _ := os.ReadFile(chainFile)
		chain := pki.ParseCerts(t, chainPEM)
		if len(chain) != 2 || !chain[1].Equal(e.CA.DeviceCA()) || !chain[0].PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
			t.Fatalf("chain file holds %d certificates; want the leaf for the new key, then the device CA", len(chain))
		}
		if got := chain[0].NotAfter.Sub(chain[0].NotBefore).Hours(); got < 48 || got > 49 {
			t.Errorf("lifetime %.1fh, want 48h", got)
		}
		serial1 = chain[0].SerialNumber.Text(16)
		if !strings.Contains(r.stdout, serial1) {
			t.Errorf("summary lacks the serial %s:\n%s", serial1, r.stdout)
		}
	})
	t.Run("error/cert-issue-key-exists", func(t *testing.T) {
		keyBefore, _ := os.ReadFile(keyFile)
		certsBefore := countCerts(t, e)
		r := run(t, e, "cert", "issue", "sensor-1", "--new-key", keyFile)
		if r.code != cli.ExitBadInput || !strings.Contains(r.stderr, "already exists") {
			t.Errorf("exit %d, stderr %q; want %d and a refusal to overwrite", r.code, r.stderr, cli.ExitBadInput)
		}
		if keyAfter, _ := os.ReadFile(keyFile); !bytes.Equal(keyBefore, keyAfter) {
			t.Error("existing key file was changed")
		}
		if countCerts(t, e) != certsBefore {
			t.Error("a certificate was issued anyway")
		}
	})
	t.Run("error/cert-issue-refused-removes-new-key", func(t *testing.T) {
		ghostKey := filepath.Join(dir, "ghost.key")
		r := run(t, e, "cert", "issue", "ghost", "--new-key", ghostKey)
		if r.code != cli.ExitNotFound {
			t.Errorf("exit %d, want %d; stderr %s", r.code, cli.ExitNotFound, r.stderr)
		}
		if _, err := os.Stat(ghostKey); !os.IsNotExist(err) {
			t.Errorf("key for a refused request left behind: %v", err)
		}
	})
	t.Run("ok/cert-issue-csr-to-stdout", func(t *testing.T) {
		csrFile := filepath.Join(dir, "sensor-2.csr")
		writeCSR(t, csrFile, "sensor-2")
		r := run(t, e, "cert", "issue", "sensor-2", "--csr", csrFile).mustSucceed(t)
		chain := pki.ParseCerts(t, []byte(r.stdout))
		if len(chain) != 2 {
			t.Fatalf("stdout holds %d certificates, want 2", len(chain))
		}
		serial2 = chain[0].SerialNumber.Text(16)
		rec, err := e.DB.Certificate(t.Context(), serial2)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing but the chain on stdout, so that it can be redirected.
		want := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.DER})) + string(e.CA.DeviceChainPEM())
		if r.stdout != want {
			t.Errorf("stdout is not exactly the leaf and device CA PEM:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, serial2) {
			t.Errorf("stderr summary lacks the serial: %q", r.stderr)
		}
	})
	t.Run("ok/cert-list", func(t *testing.T) {
		rs := rows(run(t, e, "cert", "list", "--device", "sensor-1").mustSucceed(t).stdout)
		issuer := ca.IssuerID(e.CA.DeviceCA())
		if len(rs) != 2 || rs[1][0] != serial1 || rs[1][1] != "sensor-1" || rs[1][2] != "active" || rs[1][3] != "operator" ||
			rs[1][5] != issuer {
			t.Errorf("rows = %q, want issuer %s", rs, issuer)
		}
		var list wire.CertificateList
		decodeJSON(t, run(t, e, "cert", "list", "--json").mustSucceed(t).stdout, &list)
		if len(list.Certificates) != 2 || list.Certificates[0].IssuerKeyID != issuer {
			t.Errorf("all certificates = %+v, want 2 with issuer %s", list.Certificates, issuer)
		}
	})
	t.Run("ok/cert-show", func(t *testing.T) {
		r := run(t, e, "cert", "show", serial1).mustSucceed(t)
		if !strings.Contains(r.stdout, "serial:") || len(pki.ParseCerts(t, []byte(r.stdout))) != 1 {
			t.Errorf("output:\n%s", r.stdout)
		}
		var c wire.CertificateDetail
		decodeJSON(t, run(t, e, "cert", "show", serial1, "--json").mustSucceed(t).stdout, &c)
		if c.Serial != serial1 || c.DeviceID != "sensor-1" || c.PEM == "" {
			t.Errorf("certificate = %+v", c)
		}
	})
	t.Run("ok/device-show", func(t *testing.T) {
		r := run(t, e, "device", "show", "sensor-1").mustSucceed(t)
		if !strings.Contains(r.stdout, "status:") || !strings.Contains(r.stdout, serial1) {
			t.Errorf("output:\n%s", r.stdout)
		}
	})
	t.Run("ok/device-suspend-resume", func(t *testing.T) {
		r := run(t, e, "device", "suspend", "sensor-1", "--reason", "maintenance").mustSucceed(t)
		if strings.TrimSpace(r.stdout) != "device sensor-1 is now suspended" {
			t.Errorf("suspend said %q", r.stdout)
		}
		if d, _ := e.DB.Device(t.Context(), "sensor-1"); d.Status != store.DeviceSuspended || d.Reason != "maintenance" {
			t.Errorf("registry has %s (%q)", d.Status, d.Reason)
		}
		r = run(t, e, "device", "resume", "sensor-1").mustSucceed(t)
		if strings.TrimSpace(r.stdout) != "device sensor-1 is now active" {
			t.Errorf("resume said %q", r.stdout)
		}
	})
	t.Run("ok/cert-revoke", func(t *testing.T) {
		r := run(t, e, "cert", "revoke", serial2, "--reason", "key lost").mustSucceed(t)
		if !strings.Contains(r.stdout, "revoked") {
			t.Errorf("revoke said %q", r.stdout)
		}
		if c, _ := e.DB.Certificate(t.Context(), serial2); c.Status != store.CertRevoked {
			t.Errorf("registry has %s", c.Status)
		}
	})
	t.Run("ok/device-revoke", func(t *testing.T) {
		var d store.Device
		decodeJSON(t, run(t, e, "device", "revoke", "sensor-1", "--reason", "scrapped", "--json").mustSucceed(t).stdout, &d)
		if d.Status != store.DeviceRevoked || d.Reason != "scrapped" {
			t.Errorf("device = %+v", d)
		}
		if c, _ := e.DB.Certificate(t.Context(), serial1); c.Status != store.CertRevoked {
			t.Errorf("its certificate is %s, want revoked", c.Status)
		}
	})
	t.Run("ok/audit", func(t *testing.T) {
		rs := rows(run(t, e, "audit", "--target", "sensor-1").mustSucceed(t).stdout)
		if len(rs) < 2 || !slices.Equal(rs[0], []string{"SEQ", "TIME", "ACTOR", "REMOTE", "ACTION", "TARGET", "DETAIL"}) {
			t.Fatalf("rows = %q", rs)
		}
		for _, row := range rs[1:] {
			if row[2] != "admin" || !strings.HasPrefix(row[3], "127.0.0.1:") || row[5] != "sensor-1" {
				t.Errorf("row %q: want actor admin from 127.0.0.1 about sensor-1", row)
			}
		}
		var list wire.AuditList
		decodeJSON(t, run(t, e, "audit", "--action", "device.revoke", "--json").mustSucceed(t).stdout, &list)
		if len(list.Events) != 1 || list.Events[0].Target != "sensor-1" {
			t.Errorf("events = %+v", list.Events)
		}
		decodeJSON(t, run(t, e, "audit", "--limit", "2", "--since", "2000-01-01T00:00:00Z", "--json").mustSucceed(t).stdout, &list)
		if len(list.Events) != 2 {
			t.Errorf("--limit 2 gave %d events", len(list.Events))
		}
	})
	t.Run("ok/audit export", func(t *testing.T) {
		all, err := e.DB.Audit(t.Context(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Pages of 2 make the export walk several requests.
		defer func(n int) { *cli.AuditExportPage = n }(*cli.AuditExportPage)
		*cli.AuditExportPage = 2
		lines := strings.Split(strings.TrimSpace(run(t, e, "audit", "export").mustSucceed(t).stdout), "\n")
		if len(lines) != len(all) {
			t.Fatalf("exported %d lines, the log holds %d events", len(lines), len(all))
		}
		for i, line := range lines {
			var ev store.AuditEvent
			decodeJSON(t, line, &ev)
			if ev.Seq != all[i].Seq || ev.Action != all[i].Action {
				t.Fatalf("line %d = %+v, want %+v", i, ev, all[i])
			}
		}
		csvOut := run(t, e, "audit", "export", "--format", "csv", "--after", strconv.FormatUint(all[1].Seq, 10)).mustSucceed(t).stdout
		recs := strings.Split(strings.TrimSpace(csvOut), "\n")
		if recs[0] != "seq,time,actor,remote,action,target,detail" || len(recs) != len(all)-2+1 {
			t.Fatalf("csv export after seq %d: %d lines, header %q", all[1].Seq, len(recs), recs[0])
		}
	})
}
