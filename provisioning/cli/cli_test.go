package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/spf13/cobra"
)

// result is what one in-process run of the binary's commands produced.
type result struct {
	stdout, stderr string
	code           int
}

// run executes `fleetgate args...` in-process against e, connection flags
// first so that args may override them.
func run(t *testing.T, e *apitest.Env, args ...string) result {
	t.Helper()
	conn := []string{"--server", e.URL, "--cert", e.AdminCert, "--key", e.AdminKey, "--cacert", e.RootCert, "--timeout", "1m"}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		t.Fatal("give a command first")
	}
	// The flags belong to the command group, so they go after the group name.
	return runRaw(t, append(append([]string{args[0]}, conn...), args[1:]...)...)
}

// runRaw executes `fleetgate args...` exactly as given.
func runRaw(t *testing.T, args ...string) result {
	t.Helper()
	root := &cobra.Command{Use: "fleetgate"}
	root.AddCommand(cli.Commands()...)
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Execute(ctx, root)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// rows splits table output into lines of whitespace-separated columns.
func rows(out string) [][]string {
	var rs [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rs = append(rs, strings.Fields(line))
	}
	return rs
}

func writeCSR(t *testing.T, path, cn string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(pki.CSRPEM(t, pki.Key(t), cn)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func countCerts(t *testing.T, e *apitest.Env) int {
	t.Helper()
	certs, err := e.DB.Certificates(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return len(certs)
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// decodeJSON fails the test unless out is exactly one JSON value of v's type.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
}
