package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorBadInput: bad operator input gets a clear error and an exit
// code a script can branch on, and changes nothing in the registry.
func TestOperatorBadInput(t *testing.T) {
	s := startServer(t, t.TempDir())
	s.Device("dev-ok")
	before := snapshot(t, s)

	garbage := filepath.Join(t.TempDir(), "bad.csr")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n"), 0o600)

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"error/malformed csr", []string{"cert", "issue", "dev-ok", "--csr", garbage}, 5, "certificate signing request"},
		{"error/unknown device", []string{"device", "show", "nobody"}, 3, "not found"},
		{"error/cert for unknown device", []string{"cert", "issue", "nobody", "--csr", garbage}, 0, ""},
		{"error/duplicate id", []string{"device", "register", "dev-ok"}, 4, "exists"},
		{"error/invalid id", []string{"device", "register", "a+b"}, 5, "invalid"},
		{"error/revoke without reason", []string{"device", "revoke", "dev-ok"}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := s.Ctl(c.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout: %s", out)
			}
			if c.code != 0 && code != c.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, c.code, errOut)
			}
			if c.msg != "" && !strings.Contains(strings.ToLower(errOut), c.msg) {
				t.Errorf("stderr does not mention %q: %s", c.msg, errOut)
			}
		})
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("registry changed after refused input:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshot renders the registry's devices and certificates as the CLI shows them.
func snapshot(t *testing.T, s *server) string {
	return s.MustCtl("device", "list", "--json") + s.MustCtl("cert", "list", "--json")
}
