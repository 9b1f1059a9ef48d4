package test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// Helpers of the hot reload tests.

// caCmd runs `fleetgate ca ...` on the server's data directory, offline
// as an operator would, and returns its stdout; it must succeed.
func (s *server) caCmd(t *testing.T, args ...string) string {
	t.Helper()
	full := append(append([]string{"ca"}, args...), "--data", s.DataDir)
	out, errOut, code := fleetserver.Run(t, bins.Fleetgate(t), full...)
	if code != 0 {
		t.Fatalf("fleetgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(full, " "), code, out, errOut)
	}
	return out
}

// hup sends SIGHUP to the server.
func (s *server) hup(t *testing.T) {
	t.Helper()
	if err := s.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// awaitLog waits until at least n server log lines hold every part. The
// log is a child's stderr with no event to wait on, so it is polled.
func (s *server) awaitLog(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Logs.Count(parts...) < n {
		select {
		case <-s.Exited():
			t.Fatalf("server exited while waiting for %q", parts)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d server log lines with %q within 30s", n, parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reloadVia triggers a reload of the CA directory (by SIGHUP, or by
// waiting for the server to notice the changed files) and waits for the
// "reloaded" line naming every part of want.
func (s *server) reloadVia(t *testing.T, sighup bool, want ...string) {
	t.Helper()
	trigger := "trigger=file_change"
	if sighup {
		trigger = "trigger=sighup"
	}
	parts := append([]string{"msg=reloaded", trigger, "part=ca"}, want...)
	n := s.Logs.Count(parts...)
	if sighup {
		s.hup(t)
	}
	s.awaitLog(t, n+1, parts...)
}

// certChain parses every certificate of a PEM file, leaf first.
func certChain(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// issuerSerial is the serial of the intermediate a device certificate
// file names after its leaf, after checking that it signed the leaf.
func issuerSerial(t *testing.T, certFile string) string {
	t.Helper()
	chain := certChain(t, certFile)
	if len(chain) != 2 {
		t.Fatalf("%s holds %d certificates, want leaf and intermediate", certFile, len(chain))
	}
	if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
		t.Fatalf("%s: the intermediate did not sign the leaf: %v", certFile, err)
	}
	return ca.SerialHex(chain[1])
}

// serialIn finds "<label>: serial <hex>" in a command's output.
func serialIn(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(label) + `: serial ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q serial in:\n%s", label, out)
	}
	return m[1]
}

// serverSerial is the serial of the server certificate a new TLS
// connection to addr sees. cert, when set, is presented (the MQTT port
// insists on one).
func (s *server) serverSerial(t *testing.T, addr string, cert *tls.Certificate) string {
	t.Helper()
	roots := x509.NewCertPool()
	for _, c := range certChain(t, s.CAFile(ca.RootCertFile)) {
		roots.AddCert(c)
	}
	conf := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return ca.SerialHex(conn.ConnectionState().PeerCertificates[0])
}

// replaceAtomically writes data to dir/name the way an editor or a
// deployment tool should, so that the server never reads half of it.
func replaceAtomically(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// stayedConnected checks that mosquitto_sub never had to connect again: one
// CONNECT in its whole output, and it is still running.
func stayedConnected(t *testing.T, m *sub) {
	t.Helper()
	select {
	case <-m.exited:
		t.Fatalf("mosquitto_sub exited (code %d); output:\n%s", m.code, m.output())
	default:
	}
	if n := strings.Count(m.output(), "sending CONNECT"); n != 1 {
		t.Fatalf("mosquitto_sub sent CONNECT %d times, want once (it was disconnected); output:\n%s", n, m.output())
	}
}
