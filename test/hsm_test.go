package test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softhsm"
)

// TestCAKeysInHSM creates a CA with its keys in a SoftHSM token through
// `fleetgate ca init-hsm`, refuses to serve on each bad token setting
// without touching the CA directory, then serves and issues a device
// certificate that chains to the root.
func TestCAKeysInHSM(t *testing.T) {
	st := softhsm.New(t, "fg-e2e")
	bin := bins.Fleetgate(t)
	hsmArgs := func(module, token, pinFile string) []string {
		return []string{"--hsm-module", module, "--hsm-token", token, "--hsm-pin-file", pinFile}
	}
	good := hsmArgs(st.Config.Module, st.Config.Token, st.Config.PINFile)
	wrongPIN := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(wrongPIN, []byte("000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A wrong PIN stops init-hsm before anything is written.
	data := t.TempDir()
	caDir := filepath.Join(data, "ca")
	_, errOut, code := fleetserver.Run(t, bin, append([]string{"ca", "init-hsm", "--data", data}, hsmArgs(st.Config.Module, "fg-e2e", wrongPIN)...)...)
	if code == 0 || !strings.Contains(errOut, "refused the PIN") {
		t.Fatalf("init-hsm with a wrong PIN: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(caDir); !os.IsNotExist(err) {
		t.Fatalf("init-hsm with a wrong PIN left %s (%v)", caDir, err)
	}

	out, errOut, code := fleetserver.Run(t, bin, append([]string{"ca", "init-hsm", "--data", data}, good...)...)
	if code != 0 {
		t.Fatalf("init-hsm: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"root.key", "device-ca.key", "operator-ca.key"} {
		b, err := os.ReadFile(filepath.Join(caDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if block, _ := pem.Decode(b); block == nil || block.Type != "PKCS11 KEY REFERENCE" {
			t.Fatalf("%s is not a key reference:\n%s", f, b)
		}
	}

	// A reference naming a label the token lacks, in a copy of the CA.
	missing := t.TempDir()
	copyDir(t, caDir, filepath.Join(missing, "ca"))
	ref := filepath.Join(missing, "ca", "device-ca.key")
	b, err := os.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref, []byte(strings.Replace(string(b), "fleetgate-device-ca", "fleetgate-gone", 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	notModule := filepath.Join(t.TempDir(), "libnot.so")
	if err := os.WriteFile(notModule, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		args []string
		want []string
	}{
		{"wrong PIN", data, hsmArgs(st.Config.Module, "fg-e2e", wrongPIN), []string{"refused the PIN", `"fg-e2e"`}},
		{"missing token", data, hsmArgs(st.Config.Module, "fg-nowhere", st.Config.PINFile), []string{"token not found", `"fg-nowhere"`}},
		{"module fails to load", data, hsmArgs(notModule, "fg-e2e", st.Config.PINFile), []string{"module fails to load", notModule}},
		{"missing key label", missing, good, []string{"key label not found", `"fleetgate-gone"`, "device-ca.key"}},
		{"no token configured", data, nil, []string{"no token is configured", "root.key", "hsm_module"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := pki.DirState(t, filepath.Join(tc.data, "ca"))
			args := append([]string{"serve", "--data", tc.data, "--mqtt-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--ops-addr", ""}, tc.args...)
			_, errOut, code := fleetserver.Run(t, bin, args...)
			if code == 0 {
				t.Fatalf("serve started (exit 0)\n%s", errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("serve: exit %d, stderr lacks %q:\n%s", code, w, errOut)
				}
			}
			if strings.Contains(errOut, "fleetgate serving") {
				t.Errorf("serve opened its listeners before failing:\n%s", errOut)
			}
			if after := pki.DirState(t, filepath.Join(tc.data, "ca")); after != before {
				t.Errorf("the refused start changed the CA directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	srv := fleetserver.Start(t, data, good...)
	certFile, _ := srv.Device("hsm-dev-1")
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	for block, rest := pem.Decode(pemBytes); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) < 2 {
		t.Fatalf("%s holds %d certificates, want the leaf and the device intermediate", certFile, len(chain))
	}
	inter := x509.NewCertPool()
	inter.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: srv.Roots(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("device certificate signed in the token does not verify under the root: %v", err)
	}
	if !strings.Contains(srv.Logs.String(), "opened the PKCS#11 token") {
		t.Errorf("server log does not say it opened the token:\n%s", srv.Logs.String())
	}
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
