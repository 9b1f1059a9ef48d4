package agent

import (
	"net"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
)

// server is one `fleetgate serve` child process on loopback
// (internal/testkit/fleetserver); this package's helpers hang off it.
type server struct{ *fleetserver.Server }

// startServer starts the server in dataDir on the given addresses
// ("127.0.0.1:0" for any port), with extra flags, and waits for its banner.
func startServer(t *testing.T, dataDir, mqttAddr, apiAddr string, extra ...string) *server {
	t.Helper()
	return &server{fleetserver.Start(t, dataDir, append([]string{"--mqtt-addr", mqttAddr, "--api-addr", apiAddr}, extra...)...)}
}

// newServer starts a server on fresh ports with a fresh data directory.
func newServer(t *testing.T) *server {
	return startServer(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0")
}

// freeAddr returns a loopback address nothing listens on (for a server
// started after the agent).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
