// Package natstest runs real nats-server processes (Debian's nats-server on
// PATH or in /usr/sbin) with JetStream on free loopback ports for tests: one
// server (Start) or a routed cluster (StartCluster) whose nodes a test can
// kill and restart. Everything is stopped when the test ends.
//
// Tests skip when nats-server is not installed, unless FLEETGATE_REQUIRE_NATS
// is set to a non-empty value (as in CI), in which case they fail.
package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv names the environment variable that turns a missing
// nats-server from a skipped test into a failed one.
const RequireEnv = "FLEETGATE_REQUIRE_NATS"

// Start starts one nats-server with JetStream on a free loopback port and
// waits until JetStream answers. It is killed when the test ends; its log
// is shown when the test failed.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn is Start with JetStream's files in dir, which the caller
// removes.
func StartIn(t testing.TB, dir string) *Server {
	t.Helper()
	s := newServer(t, lookup(t), "fg-0", dir, nil)
	s.start(t)
	s.waitHealthy(t)
	return s
}

// lookup finds nats-server, or ends the test as RequireEnv says.
func lookup(t testing.TB) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("natstest: %v; %s is set, so this is a failure", err, RequireEnv)
		}
		t.Skipf("natstest: %v; set %s=1 to fail instead of skipping", err, RequireEnv)
	}
	return bin
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
