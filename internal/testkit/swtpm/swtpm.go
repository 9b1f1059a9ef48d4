// Package swtpm runs Debian's swtpm for tests: a TPM freshly manufactured
// by swtpm_setup with RSA-2048 and ECC P-384 EKs and their certificates,
// issued by a swtpm-localca CA kept in the test's temporary directory,
// served on loopback until cleanup. A missing swtpm fails the test: the
// tests that need it run under the swtpm or qemu build tag, which says
// the tool is there.
package swtpm

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// TPM is a running swtpm.
type TPM struct {
	// Path is how tpmkey.Open reaches it: tcp://127.0.0.1:port?ctrl=port.
	Path string
	// TCTI is how tpm2-tools and tpm2-openssl reach it
	// (TPM2TOOLS_TCTI, TPM2OPENSSL_TCTI): swtpm:host=127.0.0.1,port=N.
	// That TCTI finds the control channel on port N+1, so Start serves
	// it there.
	TCTI string
	// RootsFile is a PEM bundle of the localca root and the issuer that
	// signs EK certificates, for --ek-roots.
	RootsFile string
	// Roots holds the localca's self-signed root; Intermediates the
	// issuer that signs EK certificates.
	Roots, Intermediates *x509.CertPool
}

// Start manufactures and serves a TPM; swtpm is killed at cleanup.
func Start(t testing.TB) *TPM {
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
		t.Fatalf("swtpm_setup (apt-get install -y swtpm swtpm-tools): %v\n%s", err, out)
	}
	rootFile, issuerFile := filepath.Join(ca, "swtpm-localca-rootca-cert.pem"), filepath.Join(ca, "issuercert.pem")
	tpm := &TPM{
		RootsFile:     filepath.Join(dir, "ek-roots.pem"),
		Roots:         pki.ReadPool(t, rootFile),
		Intermediates: pki.ReadPool(t, issuerFile),
	}
	var bundle []byte
	for _, f := range []string{rootFile, issuerFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	if err := os.WriteFile(tpm.RootsFile, bundle, 0o600); err != nil {
		t.Fatal(err)
	}

	// swtpm 0.7 cannot be handed a listening socket reliably (with
	// --server fd=N it stops answering if the first client is slow), so it
	// gets free ports and is polled until it listens.
	cmdPort := freePortPair(t)
	ctrlPort := cmdPort + 1
	var out bytes.Buffer
	srv := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(cmdPort),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ctrlPort),
		"--flags", "not-need-init,startup-clear")
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("swtpm output: %s", out.String())
		}
	})
	waitListening(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort)))
	tpm.Path = fmt.Sprintf("tcp://127.0.0.1:%d?ctrl=%d", cmdPort, ctrlPort)
	tpm.TCTI = fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", cmdPort)
	return tpm
}

// freePortPair returns a free loopback port N whose successor N+1 is free
// too (swtpm's command and control ports, as the swtpm TCTI expects).
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		_ = ln.Close()
		if err == nil {
			_ = next.Close()
			return port
		}
	}
	t.Fatal("no two consecutive free loopback ports")
	return 0
}

// waitListening polls until addr accepts: swtpm signals readiness no other
// way. It probes the control port because the command port serves one
// client at a time. The deadline is generous for a loaded machine.
func waitListening(t testing.TB, addr string) {
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
