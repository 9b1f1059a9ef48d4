package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/cli"
)

// TestOperatorCommands issues a read-only operator, proves the server
// refuses its revoke with a clear message and exit code while its reads
// work, and exports it as PKCS#12 that decodes to the same certificate.
func TestOperatorCommands(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	run(t, e, "device", "register", "dev-1").mustSucceed(t)
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "viewer.crt"), filepath.Join(dir, "viewer.key")
	data := filepath.Dir(e.CADir)
	runRaw(t, "operator", "issue", "viewer", "--role", "read-only", "--data", data, "--out-cert", crt, "--out-key", key).mustSucceed(t)

	as := func(args ...string) result {
		conn := []string{"--server", e.URL, "--cert", crt, "--key", key, "--cacert", e.RootCert}
		return runRaw(t, append(append([]string{args[0]}, conn...), args[1:]...)...)
	}
	as("device", "show", "dev-1").mustSucceed(t)
	r := as("device", "revoke", "dev-1", "--reason", "stolen")
	if r.code != cli.ExitUnreachable || !strings.Contains(r.stderr, "read-only") || !strings.Contains(r.stderr, "forbidden") {
		t.Fatalf("read-only revoke: exit %d\n%s", r.code, r.stderr)
	}

	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "viewer.p12")
	runRaw(t, "operator", "p12", "--cert", crt, "--key", key, "--out", out, "--password-file", pass).mustSucceed(t)
	pfx, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, leaf, _, err := pkcs12.DecodeChain(pfx, "s3cret")
	if err != nil {
		t.Fatalf("decode the PKCS#12: %v", err)
	}
	if name, _ := ca.OperatorName(leaf); name != "viewer" {
		t.Fatalf("PKCS#12 holds %q", name)
	}
	if role, _ := ca.OperatorRoleOf(leaf); role != ca.RoleReadOnly {
		t.Fatalf("PKCS#12 certificate role %q", role)
	}

	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"error/no password", []string{"operator", "p12", "--cert", crt, "--key", key, "--out", filepath.Join(dir, "x.p12")}, cli.ExitUsage},
		{"error/empty password", []string{"operator", "p12", "--cert", crt, "--key", key, "--out", filepath.Join(dir, "y.p12"), "--password-env", "FLEETGATE_NO_SUCH_VAR"}, cli.ExitBadInput},
		{"error/existing file", []string{"operator", "p12", "--cert", crt, "--key", key, "--out", out, "--password-file", pass}, cli.ExitBadInput},
		{"error/device certificate", []string{"operator", "p12", "--cert", e.RootCert, "--key", key, "--out", filepath.Join(dir, "z.p12"), "--password-file", pass}, cli.ExitBadInput},
		{"error/unknown role", []string{"operator", "issue", "x", "--role", "owner", "--data", data}, cli.ExitUsage},
		{"error/existing key", []string{"operator", "issue", "viewer", "--data", data, "--out-cert", filepath.Join(dir, "n.crt"), "--out-key", key}, cli.ExitBadInput},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := runRaw(t, tt.args...); r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
		})
	}
}
