package test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softhsm"
)

// TestHSMRotationAndDelegatedOCSP: with every CA key in a SoftHSM token,
// `fleetgate ca list` works without the token, `fleetgate ca
// rotate-intermediate` generates the new intermediate's key in the token,
// and a `fleetgate serve` issuing from it answers openssl's OCSP request
// with a response signed by the delegated OCSP signer, which openssl
// verifies against the root.
func TestHSMRotationAndDelegatedOCSP(t *testing.T) {
	openssl := needTool(t, "openssl")
	st := softhsm.New(t, "fg-e2e")
	bin := bins.Fleetgate(t)
	hsmArgs := []string{"--hsm-module", st.Config.Module, "--hsm-token", st.Config.Token, "--hsm-pin-file", st.Config.PINFile}
	data := t.TempDir()
	ctl := func(args ...string) string {
		t.Helper()
		out, errOut, code := fleetserver.Run(t, bin, args...)
		if code != 0 {
			t.Fatalf("fleetgate %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	ctl(append([]string{"ca", "init-hsm", "--data", data}, hsmArgs...)...)

	if out := ctl("ca", "list", "--data", data); !strings.Contains(out, "issuing") || !strings.Contains(out, "root") {
		t.Fatalf("ca list without the token:\n%s", out)
	}
	out := ctl(append([]string{"ca", "rotate-intermediate", "--data", data}, hsmArgs...)...)
	if !strings.Contains(out, `in token "fg-e2e"`) || !strings.Contains(out, `"fleetgate-device-ca" stays in token`) {
		t.Fatalf("rotate-intermediate does not say where the keys are:\n%s", out)
	}
	caDir := filepath.Join(data, "ca")
	rotated := pki.ReadCert(t, filepath.Join(caDir, "device-ca.crt"))
	if out := ctl("ca", "list", "--data", data); !strings.Contains(out, "trusted") || !strings.Contains(out, rotated.SerialNumber.Text(16)) {
		t.Fatalf("ca list after the rotation lacks the new intermediate %x:\n%s", rotated.SerialNumber, out)
	}

	addr := freeLoopbackAddr(t)
	s := startServer(t, data, append([]string{"--public-url", "http://" + addr, "--revocation-addr", addr}, hsmArgs...)...)
	certFile, _ := s.Device("dev-hsm-ocsp")
	leaf := pki.ReadCert(t, certFile)
	if leaf.CheckSignatureFrom(rotated) != nil {
		t.Fatal("the device certificate is not from the intermediate rotated in the token")
	}
	out, errOut, code := fleetserver.Run(t, openssl, "ocsp", "-issuer", s.CAFile("device-ca.crt"), "-CAfile", s.CAFile("root.crt"),
		"-url", leaf.OCSPServer[0], "-cert", certFile, "-resp_text")
	if code != 0 || !strings.Contains(errOut, "Response verify OK") || !strings.Contains(out, certFile+": good") {
		t.Fatalf("openssl ocsp: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Responder Id: O = fleetgate, CN = fleetgate OCSP responder", "OCSP Signing", "OCSP No Check"} {
		if !strings.Contains(out, want) {
			t.Errorf("the response is not from the delegated signer: no %q in\n%s", want, out)
		}
	}
}
