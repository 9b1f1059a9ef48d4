//go:build swtpm

package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/swtpm"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestTPM2ToolsWalkthrough runs the TPM enrolment of
// provisioning/enroll/README.md with Debian's tpm2-tools, curl and OpenSSL's
// tpm2 provider against swtpm and the real server: the script the README
// shows, command for command, ending with a TPM-attested certificate.
func TestTPM2ToolsWalkthrough(t *testing.T) {
	for _, tool := range []string{"tpm2_nvread", "tpm2_send", "curl", "python3"} {
		needTool(t, tool)
	}
	tpm := swtpm.Start(t)
	srv := startServer(t, t.TempDir(), "--ek-roots", tpm.RootsFile)
	dir := t.TempDir()
	env := append(os.Environ(), "TPM2TOOLS_TCTI="+tpm.TCTI, "API="+srv.API, "ROOT="+srv.CAFile("root.crt"))
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	// The factory's part: the device registered with its RSA EK certificate.
	run("tpm2_nvread", "0x01c00002", "-o", "ek.der")
	ekPEM := run("openssl", "x509", "-inform", "DER", "-in", "ek.der")
	csv := filepath.Join(dir, "batch.csv")
	if err := os.WriteFile(csv, []byte("id,ek_cert\nwt-1,\""+strings.TrimSpace(ekPEM)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.MustCtl("device", "import", csv)

	script, _ := filepath.Abs("../provisioning/enroll/tpm2-walkthrough.sh")
	out := run(script, "wt-1")
	if !strings.Contains(out, "enrolled wt-1: serial ") {
		t.Fatalf("walkthrough: %s", out)
	}
	certs := pki.ParseCerts(t, []byte(run("cat", "device.crt")))
	var detail wire.DeviceDetail
	if err := json.Unmarshal([]byte(srv.MustCtl("device", "show", "wt-1", "--json")), &detail); err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || len(detail.Certificates) != 1 || detail.Certificates[0].Attestation != "tpm" ||
		detail.Certificates[0].Serial != certs[0].SerialNumber.Text(16) {
		t.Fatalf("after the walkthrough: %d certificates in device.crt, registry %+v", len(certs), detail.Certificates)
	}
}
