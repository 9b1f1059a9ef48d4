//go:build swtpm

package attest_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
)

// swtpmTPM is a freshly manufactured swtpm: EK certificates issued by a
// swtpm-localca CA kept in the test's temporary directory.
type swtpmTPM struct {
	tpm           transport.TPMCloser
	roots         *x509.CertPool // swtpm-localca's self-signed root
	intermediates *x509.CertPool // the localca issuer that signs EK certificates
}

// startSWTPM manufactures a TPM with swtpm_setup (RSA-2048 and ECC P-384
// EKs with certificates) and serves it with swtpm on loopback. The process
// is killed at cleanup.
func startSWTPM(t *testing.T) *swtpmTPM {
	t.Helper()
	dir := t.TempDir()
	state, ca := filepath.Join(dir, "state"), filepath.Join(dir, "ca")
	for _, d := range []string{state, ca} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// swtpm_setup's default config points at /var/lib/swtpm-localca; these
	// point it at the temporary directory instead.
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
	setup := exec.CommandContext(ctx, "swtpm_setup", "--tpm2", "--tpmstate", state,
		"--create-ek-cert", "--config", filepath.Join(dir, "swtpm_setup.conf"), "--overwrite")
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, out)
	}

	// swtpm 0.7 cannot be handed a listening socket reliably (with
	// --server fd=N it stops answering if the first client is slow), so it
	// gets free ports and is polled until it listens.
	cmdPort, ctrlPort := freePort(t), freePort(t)
	var stderr bytes.Buffer
	srv := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(cmdPort),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ctrlPort),
		"--flags", "not-need-init,startup-clear")
	srv.Stdout, srv.Stderr = &stderr, &stderr
	if err := srv.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("swtpm output: %s", stderr.String())
		}
	})
	waitListening(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort)))
	tpm, err := tpmkey.Open(fmt.Sprintf("tcp://127.0.0.1:%d?ctrl=%d", cmdPort, ctrlPort))
	if err != nil {
		t.Fatalf("tpmkey.Open: %v", err)
	}
	t.Cleanup(func() { _ = tpm.Close() })

	return &swtpmTPM{
		tpm:           tpm,
		roots:         pemPool(t, filepath.Join(ca, "swtpm-localca-rootca-cert.pem")),
		intermediates: pemPool(t, filepath.Join(ca, "issuercert.pem")),
	}
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls until addr accepts: swtpm signals readiness no other
// way. It probes the control port because the command port serves one
// client at a time. The deadline is generous for a loaded machine.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm control port %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pemPool loads one PEM certificate into a new pool.
func pemPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
