package fleetserver

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
)

// Ctl runs an operator command against the server as its admin and
// returns stdout, stderr and the exit code.
func (s *Server) Ctl(args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	full := append(args, "--server", s.API, "--cert", s.CAFile("admin.crt"), "--key", s.CAFile("admin.key"),
		"--cacert", s.CAFile("root.crt"))
	return Run(s.t, bins.Fleetgate(s.t), full...)
}

// MustCtl runs an operator command that must succeed and returns its
// stdout.
func (s *Server) MustCtl(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.Ctl(args...)
	if code != 0 {
		s.t.Fatalf("fleetgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Run runs a command for at most a minute and returns its stdout, stderr
// and exit code; it fails t only when the command could not run at all.
func Run(t testing.TB, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errOut.String(), code
}
