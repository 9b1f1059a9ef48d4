// Package natstest runs a real nats-server (Debian's nats-server on PATH
// or in /usr/sbin) on a free loopback port for tests, and stops it when the
// test ends.
//
// Tests skip when nats-server is not installed, unless FLEETGATE_REQUIRE_NATS
// is set to a non-empty value (as in CI), in which case they fail.
package natstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing
// nats-server from a skipped test into a failed one.
const RequireEnv = "FLEETGATE_REQUIRE_NATS"

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 15 * time.Second

// Server is a running nats-server.
type Server struct {
	// URL is nats://127.0.0.1:PORT.
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// binary finds nats-server on PATH or where Debian installs it.
func binary() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/nats-server"
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("nats-server not found on PATH nor at %s (apt-get install nats-server)", debian)
	}
	return debian, nil
}

// Start starts one nats-server on a free loopback port and waits until it
// accepts connections. It is killed when the test ends; its log is shown
// when the test failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("natstest: %v; %s is set, so this is a failure", err, RequireEnv)
		}
		t.Skipf("natstest: %v; set %s=1 to fail instead of skipping", err, RequireEnv)
	}
	port := freePort(t)
	s := &Server{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("natstest: start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: nats-server not accepting on port %d after %v: %v\n%s", port, readyTimeout, err, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
