// Package fleetserver runs `fleetgate serve` for end-to-end tests: a real
// child process on loopback ports, its banner read through
// firmware-sim/launch, its log kept for assertions, and the operator CLI
// pointed at it. The server stops at the test's cleanup.
package fleetserver

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// Server is one running `fleetgate serve`. The embedded launch.Server
// gives its addresses (MQTT, API, Ops), DataDir, PID, CAFile, Exited,
// Signal and Stop.
type Server struct {
	*launch.Server
	// Logs is the server's whole stderr.
	Logs *logbuf.Buffer
	t    testing.TB
}

// Start starts the server in dataDir on ephemeral loopback ports with
// debug logging, extra flags appended (a later --mqtt-addr wins over the
// default), and waits for its banner. At cleanup the server is stopped
// and, if t failed, its log is printed.
func Start(t testing.TB, dataDir string, extra ...string) *Server {
	t.Helper()
	logs := &logbuf.Buffer{}
	ls, err := launch.Start(t.Context(), launch.Options{
		Binary:  bins.Fleetgate(t),
		DataDir: dataDir,
		Args:    append([]string{"--log-level", "debug"}, extra...),
		Log:     logs,
	})
	if err != nil {
		t.Fatalf("fleetgate serve: %v", err)
	}
	t.Cleanup(func() {
		ls.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &Server{Server: ls, Logs: logs, t: t}
}

// For returns the same server with its helpers failing t instead of the
// test that started it: a subtest uses it so that a failure lands there.
func (s *Server) For(t testing.TB) *Server {
	c := *s
	c.t = t
	return &c
}

// MQTTPort is the port of the MQTT listener.
func (s *Server) MQTTPort() string {
	_, port, err := net.SplitHostPort(s.MQTT)
	if err != nil {
		s.t.Fatalf("MQTT address %q: %v", s.MQTT, err)
	}
	return port
}

// Roots is a pool holding the fleet root, which signs the server's TLS
// certificates.
func (s *Server) Roots() *x509.CertPool {
	s.t.Helper()
	b, err := os.ReadFile(s.CAFile("root.crt"))
	if err != nil {
		s.t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		s.t.Fatal("root.crt: no certificate")
	}
	return p
}

// Device registers id (with registerArgs) and issues it a certificate
// through the CLI; it returns the certificate (leaf and chain) and key
// file paths.
func (s *Server) Device(id string, registerArgs ...string) (certFile, keyFile string) {
	s.t.Helper()
	dir := s.t.TempDir()
	certFile, keyFile = filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
	s.MustCtl(append([]string{"device", "register", id}, registerArgs...)...)
	s.MustCtl("cert", "issue", id, "--new-key", keyFile, "--out", certFile)
	return certFile, keyFile
}

// Token makes a group that allows tokens and one enrolment token for it.
func (s *Server) Token(group string) string {
	s.t.Helper()
	s.MustCtl("group", "put", group, "--allow-tokens")
	out := filepath.Join(s.t.TempDir(), "tokens")
	s.MustCtl("token", "create", "--group", group, "--count", "1", "--out", out)
	b, err := os.ReadFile(out)
	if err != nil {
		s.t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.Contains(tok, "\n") {
		s.t.Fatalf("token file holds %q", b)
	}
	return tok
}
