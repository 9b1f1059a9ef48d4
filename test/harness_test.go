// Package test holds end-to-end tests: they run the real fleetgate binary
// as a child process on loopback (internal/testkit/fleetserver) and drive
// it with the operator CLI and with MQTT clients that no one here wrote
// (Debian's mosquitto_pub and mosquitto_sub).
package test

import (
	"os/exec"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
)

// server is one running `fleetgate serve`; this package's own helpers
// (mosquitto clients, reloads) hang off it.
type server struct{ *fleetserver.Server }

// startServer starts `fleetgate serve` on ephemeral loopback ports in
// dataDir with extra flags and waits for its banner; it stops at cleanup.
func startServer(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	return &server{fleetserver.Start(t, dataDir, extra...)}
}

// forTest returns the server with its helpers bound to t, so that they
// fail the subtest that calls them and not the one that started it.
func (s *server) forTest(t testing.TB) *server { return &server{s.For(t)} }

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install its Debian package (apt-get install -y mosquitto-clients openssl); .ci/run does this", name)
	}
	return p
}
