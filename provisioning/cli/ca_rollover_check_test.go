package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// rolloverUnderWay starts an API, gives device id a certificate under the
// first root, begins a root rollover on the API's CA directory and
// returns the data directory, the certificate's serial and the connection
// flags (with the first root to verify the server, which keeps serving
// its certificate under it).
func rolloverUnderWay(t *testing.T, id string) (e *apitest.Env, data, serial string, conn []string) {
	t.Helper()
	t.Setenv("FLEETGATE_SERVER", "")
	e = apitest.Start(t, apitest.Options{})
	if _, err := e.Admin.RegisterDevice(t.Context(), wire.RegisterRequest{ID: id}); err != nil {
		t.Fatal(err)
	}
	issued, err := e.Admin.IssueCertificate(t.Context(), id, []byte(pki.CSRPEM(t, pki.Key(t), id)), 0)
	if err != nil {
		t.Fatal(err)
	}
	root1 := filepath.Join(t.TempDir(), "root1.crt")
	pemRoot, err := os.ReadFile(e.RootCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root1, pemRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	data = filepath.Dir(e.CADir)
	runRaw(t, "ca", "root-rollover", "begin", "--data", data).mustSucceed(t)
	conn = []string{"--server", e.URL, "--cert", e.AdminCert, "--key", e.AdminKey, "--cacert", root1, "--timeout", "1m"}
	return e, data, issued.Serial, conn
}

// inRollover reports whether the CA directory still has a previous root.
func inRollover(t *testing.T, data string) bool {
	t.Helper()
	c, err := ca.LoadPublic(filepath.Join(data, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return c.PreviousRoot() != nil
}

// TestRootRolloverFinishChecksRegistry: finish refuses while a device's
// active certificate is under the previous root, and goes ahead once it
// is revoked.
func TestRootRolloverFinishChecksRegistry(t *testing.T) {
	e, data, serial, conn := rolloverUnderWay(t, "stuck-1")
	finish := append([]string{"ca", "root-rollover", "finish", "--data", data}, conn...)

	r := runRaw(t, finish...)
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "1 active certificate") ||
		!strings.Contains(r.stderr, "stuck-1") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("finish with a device under the previous root: exit %d, want %d\nstdout: %s\nstderr: %s", r.code, cli.ExitConflict, r.stdout, r.stderr)
	}
	if !inRollover(t, data) {
		t.Fatal("the refused finish retired the previous root")
	}

	if _, err := e.Admin.RevokeCertificate(t.Context(), serial, "moved off the old root"); err != nil {
		t.Fatal(err)
	}
	r = runRaw(t, finish...).mustSucceed(t)
	if !strings.Contains(r.stdout, "checked: no active certificate") || !strings.Contains(r.stdout, "finished the root rollover") {
		t.Fatalf("finish output:\n%s", r.stdout)
	}
	if inRollover(t, data) {
		t.Fatal("finish left the previous root in place")
	}
}

// TestRootRolloverFinishNeedsServerOrForce: without the server to ask,
// finish refuses and says how to give it; --force retires the previous
// root though a device is still under it.
func TestRootRolloverFinishNeedsServerOrForce(t *testing.T) {
	_, data, _, _ := rolloverUnderWay(t, "stuck-2")

	r := runRaw(t, "ca", "root-rollover", "finish", "--data", data)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--server") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("finish without --server: exit %d, want %d\nstderr: %s", r.code, cli.ExitUsage, r.stderr)
	}
	if !inRollover(t, data) {
		t.Fatal("the refused finish retired the previous root")
	}

	r = runRaw(t, "ca", "root-rollover", "finish", "--data", data, "--force").mustSucceed(t)
	if !strings.Contains(r.stdout, "--force: not checking") {
		t.Fatalf("finish --force does not say it skipped the check:\n%s", r.stdout)
	}
	if inRollover(t, data) {
		t.Fatal("finish --force left the previous root in place")
	}
}
