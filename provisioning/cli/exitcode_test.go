package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestExitCodes runs failing command lines and checks the exit code, that
// the error is printed once with advice, that stdout stays empty, and that
// the registry did not change.
func TestExitCodes(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	run(t, e, "device", "register", "sensor-1").mustSucceed(t)
	run(t, e, "device", "register", "retired-1").mustSucceed(t)
	run(t, e, "device", "revoke", "retired-1", "--reason", "scrapped").mustSucceed(t)
	garbage := filepath.Join(dir, "garbage.csr")
	if err := os.WriteFile(garbage, []byte("not a CSR"), 0o600); err != nil {
		t.Fatal(err)
	}
	csr := filepath.Join(dir, "good.csr")
	writeCSR(t, csr, "sensor-1")
	unreachable := "https://" + closedPort(t)

	tests := []struct {
		name string
		args []string
		code int
		hint string // part of the advice printed with the error
	}{
		{"error/not-found-device", []string{"device", "show", "ghost"}, cli.ExitNotFound, "device list"},
		{"error/not-found-certificate", []string{"cert", "show", "abc123"}, cli.ExitNotFound, "cert list"},
		{"error/conflict-duplicate", []string{"device", "register", "sensor-1"}, cli.ExitConflict, "never reused"},
		{"error/conflict-resume-revoked", []string{"device", "resume", "retired-1"}, cli.ExitConflict, "device show"},
		{"error/conflict-issue-revoked", []string{"cert", "issue", "retired-1", "--csr", csr}, cli.ExitConflict, "device show"},
		{"error/bad-input-id", []string{"device", "register", "a+b"}, cli.ExitBadInput, "fix the input"},
		{"error/bad-input-csr", []string{"cert", "issue", "sensor-1", "--csr", garbage}, cli.ExitBadInput, "fix the input"},
		{"error/bad-input-csr-file-missing", []string{"cert", "issue", "sensor-1", "--csr", filepath.Join(dir, "nope.csr")}, cli.ExitBadInput, ""},
		{"error/bad-input-status-filter", []string{"device", "list", "--status", "sleeping"}, cli.ExitBadInput, "fix the input"},
		{"error/usage-revoke-without-reason", []string{"device", "revoke", "sensor-1"}, cli.ExitUsage, "--help"},
		{"error/usage-cert-revoke-without-reason", []string{"cert", "revoke", "abc"}, cli.ExitUsage, "--help"},
		{"error/usage-missing-argument", []string{"device", "show"}, cli.ExitUsage, "--help"},
		{"error/usage-extra-argument", []string{"device", "list", "extra"}, cli.ExitUsage, "--help"},
		{"error/usage-unknown-flag", []string{"device", "list", "--colour", "red"}, cli.ExitUsage, "--help"},
		{"error/usage-unknown-subcommand", []string{"device", "explode"}, cli.ExitUsage, "--help"},
		{"error/usage-csr-and-new-key", []string{"cert", "issue", "sensor-1", "--csr", csr, "--new-key", filepath.Join(dir, "k")}, cli.ExitUsage, "--help"},
		{"error/usage-neither-csr-nor-key", []string{"cert", "issue", "sensor-1"}, cli.ExitUsage, "--help"},
		{"error/usage-bad-meta", []string{"device", "register", "sensor-9", "--meta", "novalue"}, cli.ExitUsage, "--help"},
		{"error/usage-bad-since", []string{"audit", "--since", "yesterday"}, cli.ExitUsage, "--help"},
		{"error/usage-audit-argument", []string{"audit", "everything"}, cli.ExitUsage, "--help"},
		{"error/usage-zero-timeout", []string{"device", "list", "--timeout", "0s"}, cli.ExitUsage, "--help"},
		{"error/unreachable", []string{"device", "list", "--server", unreachable}, cli.ExitUnreachable, "make run"},
		{"error/no-credentials", []string{"device", "list", "--cert", filepath.Join(dir, "missing.crt")}, cli.ExitUnreachable, "--cert"},
		{"error/wrong-server-root", []string{"device", "list", "--cacert", e.AdminCert}, cli.ExitUnreachable, "make run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := auditLength(t, e)
			r := run(t, e, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if n := strings.Count(r.stderr, "error:"); n != 1 {
				t.Errorf("error printed %d times:\n%s", n, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.hint) {
				t.Errorf("stderr lacks the advice %q:\n%s", tc.hint, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty on failure: %q", r.stdout)
			}
			if after := auditLength(t, e); after != before {
				t.Errorf("audit log grew from %d to %d: the refused command changed something", before, after)
			}
		})
	}
	if d, err := e.DB.Device(t.Context(), "sensor-1"); err != nil || d.Status != store.DeviceActive {
		t.Errorf("sensor-1 = %+v, %v; want untouched and active", d, err)
	}
	if certs, _ := e.DB.Certificates(t.Context(), ""); len(certs) != 0 {
		t.Errorf("%d certificates issued by failing commands", len(certs))
	}
}

func auditLength(t *testing.T, e *apitest.Env) int {
	t.Helper()
	events, err := e.DB.Audit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// TestEnvironmentDefaults checks that FLEETGATE_* variables stand in for the
// connection flags.
func TestEnvironmentDefaults(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	t.Setenv("FLEETGATE_SERVER", e.URL)
	t.Setenv("FLEETGATE_CERT", e.AdminCert)
	t.Setenv("FLEETGATE_KEY", e.AdminKey)
	t.Setenv("FLEETGATE_CACERT", e.RootCert)
	runRaw(t, "device", "register", "env-1").mustSucceed(t)
	if _, err := e.DB.Device(t.Context(), "env-1"); err != nil {
		t.Fatalf("device not registered through the environment's server: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	apiErr := func(status int, code wire.Code) error {
		return fmt.Errorf("call: %w", &client.APIError{Status: status, Code: code})
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok/nil", nil, cli.ExitOK},
		{"error/not-found", apiErr(404, wire.CodeNotFound), cli.ExitNotFound},
		{"error/exists", apiErr(409, wire.CodeExists), cli.ExitConflict},
		{"error/invalid-state", apiErr(409, wire.CodeInvalidState), cli.ExitConflict},
		{"error/bad-request", apiErr(400, wire.CodeBadRequest), cli.ExitBadInput},
		{"error/unauthenticated", apiErr(401, wire.CodeUnauthenticated), cli.ExitUnreachable},
		{"error/internal", apiErr(500, wire.CodeInternal), cli.ExitInternal},
		{"error/registry-full", apiErr(507, wire.CodeRegistryFull), cli.ExitFull},
		{"error/unreachable", fmt.Errorf("%w: refused", client.ErrUnreachable), cli.ExitUnreachable},
		{"error/credentials", fmt.Errorf("%w: no file", client.ErrCredentials), cli.ExitUnreachable},
		{"error/deadline", context.DeadlineExceeded, cli.ExitUnreachable},
		{"error/cobra-unknown-command", errors.New(`unknown command "x" for "fleetgate"`), cli.ExitUsage},
		{"error/other", errors.New("disk on fire"), cli.ExitInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.ExitCode(tc.err); got != tc.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
