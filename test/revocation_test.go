package test

import (
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// TestRevocationForRelyingParties: a device certificate names the CRL and
// OCSP URLs of a real `fleetgate serve` with --public-url; Debian's
// openssl reads "good" from the responder, then "revoked" with reason and
// time after `fleetgate device revoke`, and `openssl verify -crl_check`
// refuses the certificate with the CRL fetched from its distribution
// point.
func TestRevocationForRelyingParties(t *testing.T) {
	openssl := needTool(t, "openssl")
	addr := freeLoopbackAddr(t)
	base := "http://" + addr
	s := startServer(t, t.TempDir(), "--public-url", base, "--revocation-addr", addr)
	certFile, _ := s.Device("dev-rp")
	leaf := pki.ReadCert(t, certFile)
	if len(leaf.OCSPServer) != 1 || leaf.OCSPServer[0] != base+"/ocsp" {
		t.Fatalf("OCSP servers %v, want [%s/ocsp]", leaf.OCSPServer, base)
	}
	if len(leaf.CRLDistributionPoints) != 1 || !strings.HasPrefix(leaf.CRLDistributionPoints[0], base+"/crl/") {
		t.Fatalf("CRL distribution points %v", leaf.CRLDistributionPoints)
	}

	ask := func(t *testing.T) string {
		t.Helper()
		out, errOut, code := fleetserver.Run(t, openssl, "ocsp", "-issuer", s.CAFile("device-ca.crt"), "-CAfile", s.CAFile("root.crt"),
			"-url", leaf.OCSPServer[0], "-cert", certFile, "-resp_text")
		if code != 0 || !strings.Contains(errOut, "Response verify OK") {
			t.Fatalf("openssl ocsp: exit %d\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "OCSP Nonce") {
			t.Errorf("openssl's nonce was not echoed:\n%s", out)
		}
		return out
	}
	if out := ask(t); !strings.Contains(out, certFile+": good") {
		t.Fatalf("before revocation:\n%s", out)
	}
	crlFile := filepath.Join(t.TempDir(), "device.crl")
	verify := func() (string, int) {
		fetchPEM(t, leaf.CRLDistributionPoints[0], crlFile)
		out, errOut, code := fleetserver.Run(t, openssl, "verify", "-crl_check", "-CAfile", s.CAFile("root.crt"),
			"-untrusted", s.CAFile("device-ca.crt"), "-CRLfile", crlFile, certFile)
		return out + errOut, code
	}
	if out, code := verify(); code != 0 {
		t.Fatalf("openssl verify before revocation: exit %d\n%s", code, out)
	}

	serial := strings.ToLower(leaf.SerialNumber.Text(16))
	s.MustCtl("device", "revoke", "dev-rp", "--reason", "key compromise")
	// The responder has applied the change once it logs it.
	s.Logs.Await(t, 10*time.Second, "revocation status changed", "serial="+serial)

	out := ask(t)
	for _, want := range []string{certFile + ": revoked", "Reason: keyCompromise", "Revocation Time:"} {
		if !strings.Contains(out, want) {
			t.Errorf("after revocation, no %q in:\n%s", want, out)
		}
	}
	if out, code := verify(); code == 0 || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify accepted a revoked certificate: exit %d\n%s", code, out)
	}
}

// freeLoopbackAddr returns a loopback address with a port free a moment
// ago: the public URL must be known before the server starts.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fetchPEM downloads a DER CRL and writes it as PEM to path.
func fetchPEM(t *testing.T, url, path string) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: fetch(t, url)}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return body
}
