package test

import (
	"crypto/x509"
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

	rp := relyingParty{openssl: openssl, root: s.CAFile("root.crt"), issuer: s.CAFile("device-ca.crt"), cert: certFile, leaf: leaf}
	rp.checkRevocation(t, s, "dev-rp")
}

// TestRevocationAfterRotation: a device certificate issued before
// `fleetgate ca rotate-intermediate` is still checked by openssl after the
// rotation and the reload: its intermediate's CRL (its distribution point)
// and OCSP answers, both signed under the old intermediate, say good, then
// revoked. After `retire-intermediate` and the reload, its CRL is gone.
func TestRevocationAfterRotation(t *testing.T) {
	openssl := needTool(t, "openssl")
	addr := freeLoopbackAddr(t)
	s := startServer(t, t.TempDir(), "--public-url", "http://"+addr, "--revocation-addr", addr, "--reload-interval", "0")
	certFile, _ := s.Device("dev-before")
	leaf := pki.ReadCert(t, certFile)
	oldPEM, err := os.ReadFile(s.CAFile("device-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	oldCA := filepath.Join(t.TempDir(), "old-device-ca.crt")
	if err := os.WriteFile(oldCA, oldPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	oldSerial := issuerSerial(t, certFile)

	out := s.caCmd(t, "rotate-intermediate")
	if !strings.Contains(out, "device-ca-"+oldSerial+".key") {
		t.Fatalf("the rotation does not say where the old key is kept:\n%s", out)
	}
	s.reloadVia(t, true, "trusted intermediate added "+oldSerial)
	if newCert, _ := s.Device("dev-after"); issuerSerial(t, newCert) == oldSerial {
		t.Fatal("the rotation did not take: a new certificate still comes from the old intermediate")
	}

	rp := relyingParty{openssl: openssl, root: s.CAFile("root.crt"), issuer: oldCA, cert: certFile, leaf: leaf}
	rp.checkRevocation(t, s, "dev-before")

	s.caCmd(t, "retire-intermediate", oldSerial)
	s.reloadVia(t, true, "trusted intermediate retired "+oldSerial)
	resp, err := http.Get(leaf.CRLDistributionPoints[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("CRL of the retired intermediate: %s, want 404", resp.Status)
	}
}

// relyingParty checks a device certificate with Debian's openssl, as a
// service other than the broker would.
type relyingParty struct {
	openssl, root, issuer, cert string
	leaf                        *x509.Certificate
}

// ask asks the certificate's OCSP responder, and checks that openssl
// verified the response and its nonce came back.
func (rp relyingParty) ask(t *testing.T) string {
	t.Helper()
	out, errOut, code := fleetserver.Run(t, rp.openssl, "ocsp", "-issuer", rp.issuer, "-CAfile", rp.root,
		"-url", rp.leaf.OCSPServer[0], "-cert", rp.cert, "-resp_text")
	if code != 0 || !strings.Contains(errOut, "Response verify OK") {
		t.Fatalf("openssl ocsp: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "OCSP Nonce") {
		t.Errorf("openssl's nonce was not echoed:\n%s", out)
	}
	return out
}

// verify fetches the CRL from the certificate's distribution point and
// runs openssl verify -crl_check with it.
func (rp relyingParty) verify(t *testing.T) (string, int) {
	t.Helper()
	crlFile := filepath.Join(t.TempDir(), "device.crl")
	fetchPEM(t, rp.leaf.CRLDistributionPoints[0], crlFile)
	out, errOut, code := fleetserver.Run(t, rp.openssl, "verify", "-crl_check", "-CAfile", rp.root,
		"-untrusted", rp.issuer, "-CRLfile", crlFile, rp.cert)
	return out + errOut, code
}

// checkRevocation: OCSP says good and the CRL check passes; after
// `fleetgate device revoke` OCSP says revoked with reason and time, and
// the CRL check refuses the certificate.
func (rp relyingParty) checkRevocation(t *testing.T, s *server, device string) {
	t.Helper()
	if out := rp.ask(t); !strings.Contains(out, rp.cert+": good") {
		t.Fatalf("before revocation:\n%s", out)
	}
	if out, code := rp.verify(t); code != 0 {
		t.Fatalf("openssl verify before revocation: exit %d\n%s", code, out)
	}

	serial := strings.ToLower(rp.leaf.SerialNumber.Text(16))
	s.MustCtl("device", "revoke", device, "--reason", "key compromise")
	// The responder has applied the change once it logs it.
	s.Logs.Await(t, 10*time.Second, "revocation status changed", "serial="+serial)

	out := rp.ask(t)
	for _, want := range []string{rp.cert + ": revoked", "Reason: keyCompromise", "Revocation Time:"} {
		if !strings.Contains(out, want) {
			t.Errorf("after revocation, no %q in:\n%s", want, out)
		}
	}
	if out, code := rp.verify(t); code == 0 || !strings.Contains(out, "certificate revoked") {
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
