//go:build qemu

package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
)

// swtpm is a freshly manufactured swtpm serving on loopback.
type swtpm struct {
	path   string // tcp://127.0.0.1:port?ctrl=port
	roots  string // PEM bundle: swtpm-localca root and issuer
	ekHash string // of the EK the agent will use
}

// startSWTPM manufactures a TPM with EK certificates from a swtpm-localca
// CA in a temporary directory, serves it, and reads its EK hash.
func startSWTPM(t *testing.T) *swtpm {
	t.Helper()
	dir := t.TempDir()
	state, ca := filepath.Join(dir, "state"), filepath.Join(dir, "ca")
	for _, d := range []string{state, ca} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"localca.conf":     fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca),
		"localca.options":  "--platform-manufacturer fleetgate\n--platform-version 2.1\n--platform-model test\n",
		"swtpm_setup.conf": fmt.Sprintf("create_certs_tool = swtpm_localca\ncreate_certs_tool_config = %[1]s/localca.conf\ncreate_certs_tool_options = %[1]s/localca.options\nactive_pcr_banks = sha256\n", dir),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	setup := exec.CommandContext(ctx, "swtpm_setup", "--tpm2", "--tpmstate", state, "--create-ek-cert",
		"--config", filepath.Join(dir, "swtpm_setup.conf"), "--overwrite")
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, out)
	}
	var bundle []byte
	for _, f := range []string{"swtpm-localca-rootca-cert.pem", "issuercert.pem"} {
		b, err := os.ReadFile(filepath.Join(ca, f))
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	roots := filepath.Join(dir, "ek-roots.pem")
	if err := os.WriteFile(roots, bundle, 0o600); err != nil {
		t.Fatal(err)
	}

	cmdPort, ctrlPort := freePort(t), freePort(t)
	var out bytes.Buffer
	srv := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(cmdPort),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ctrlPort),
		"--flags", "not-need-init,startup-clear")
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
		if t.Failed() {
			t.Logf("swtpm: %s", out.String())
		}
	})
	// swtpm signals readiness no other way: poll its control port.
	ctrl := net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort))
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm control port: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := &swtpm{path: fmt.Sprintf("tcp://127.0.0.1:%d?ctrl=%d", cmdPort, ctrlPort), roots: roots}

	// The factory line's view of the TPM: its EK hash. swtpm serves one
	// client at a time, so this connection is closed before the agent's.
	tpm, err := tpmkey.Open(s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if ek.Cert == nil {
		t.Fatal("swtpm has no EK certificate")
	}
	pub, err := ek.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	s.ekHash = hex.EncodeToString(sum[:])
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	addr := freeAddr(t)
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// preRegisterHash imports id with an EK hash, as the factory line does.
func preRegisterHash(t *testing.T, srv *server, id, hash string) {
	t.Helper()
	csv := filepath.Join(t.TempDir(), "factory.csv")
	if err := os.WriteFile(csv, []byte("id,ek_hash\n"+id+","+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.MustCtl("device", "import", csv)
}
