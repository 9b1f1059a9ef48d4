//go:build swtpm

package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/swtpm"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// stationScript is the factory station script the README documents.
var stationScript, _ = filepath.Abs("../provisioning/enroll/factory-station.sh")

// station runs the factory script with args and returns stdout, stderr
// and the exit code.
func station(t *testing.T, agentBin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), stationScript, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "DEVICE_AGENT="+agentBin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("factory-station.sh %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// TestFactoryStation runs the factory line end to end against swtpm: the
// station script reads the EK certificates of a batch with tpm2_nvread,
// the operator imports the batch into a group that requires a TPM, and
// each device enrols with `device-agent enrol`; a second run changes
// nothing, and each failure has its own exit code and one-line reason.
func TestFactoryStation(t *testing.T) {
	needTool(t, "tpm2_nvread")
	agentBin := bins.Build(t, "github.com/fleetgate/fleetgate/device-agent/cmd/device-agent")
	tpms := map[string]*swtpm.TPM{"fa-1": swtpm.Start(t), "fa-2": swtpm.Start(t), "fa-x": swtpm.Start(t)}
	// Each swtpm has its own manufacturer CA; the server trusts all three,
	// so fa-x's EK is trusted but not in the batch.
	var roots []byte
	for _, tpm := range tpms {
		b, err := os.ReadFile(tpm.RootsFile)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, b...)
	}
	rootsFile := filepath.Join(t.TempDir(), "ek-roots.pem")
	if err := os.WriteFile(rootsFile, roots, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), "--ek-roots", rootsFile)
	srv.MustCtl("group", "put", "line-a", "--require-tpm")

	batch, stderr, code := station(t, agentBin, "batch", "line-a", "fa-1", tpms["fa-1"].TCTI, "fa-2", tpms["fa-2"].TCTI)
	if code != 0 || strings.Count(batch, "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("batch: exit %d\n%s\n%s", code, batch, stderr)
	}
	csv := filepath.Join(t.TempDir(), "batch.csv")
	if err := os.WriteFile(csv, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.MustCtl("device", "import", csv)

	flags := func(id string) []string {
		return []string{id, "-provisioning-url", srv.API, "-broker", srv.MQTT, "-ca-file", srv.CAFile("root.crt"),
			"-key-source", "tpm", "-tpm-path", tpms[id].Path, "-state-dir", filepath.Join(t.TempDir(), id)}
	}
	states := map[string][]string{}
	for _, id := range []string{"fa-1", "fa-2"} {
		if id == "fa-2" {
			// A board whose TPM is not the one the batch lists for its ID
			// (fa-x's TPM under fa-2's ID) is refused, and fa-2 is left
			// to enrol with its own.
			swapped := append(flags("fa-x"), "-device-id", "fa-2")
			out, stderr, code := station(t, agentBin, append([]string{"enrol", "fa-2"}, swapped[1:]...)...)
			if code != 11 || out != "" || !strings.HasPrefix(stderr, "device-agent enrol: EK not allowed: ") {
				t.Fatalf("fa-2 with another TPM: exit %d, %q, %q; want 11, EK not allowed", code, out, stderr)
			}
		}
		states[id] = flags(id)
		out, stderr, code := station(t, agentBin, append([]string{"enrol"}, states[id]...)...)
		var got struct {
			DeviceID    string    `json:"device_id"`
			Serial      string    `json:"serial"`
			Fingerprint string    `json:"fingerprint"`
			NotAfter    time.Time `json:"not_after"`
			Attestation string    `json:"attestation"`
			Broker      string    `json:"broker"`
			Status      string    `json:"status"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.DeviceID != id || got.Status != "enrolled" ||
			got.Attestation != "tpm" || got.Serial == "" || len(got.Fingerprint) != 64 || got.NotAfter.IsZero() || got.Broker != srv.MQTT {
			t.Fatalf("enrol %s: exit %d, %q, stderr %s", id, code, out, stderr)
		}
		var detail wire.DeviceDetail
		if err := json.Unmarshal([]byte(srv.MustCtl("device", "show", id, "--json")), &detail); err != nil {
			t.Fatal(err)
		}
		if detail.Device.Status != wire.DeviceActive || detail.Device.Group != "line-a" || len(detail.Certificates) != 1 ||
			detail.Certificates[0].Serial != got.Serial || detail.Certificates[0].Attestation != wire.Attestation("tpm") {
			t.Fatalf("registry after enrolling %s: %+v", id, detail)
		}

		// The same station run again: nothing changes, and it says so.
		again, stderr, code := station(t, agentBin, append([]string{"enrol"}, states[id]...)...)
		if code != 0 || !strings.Contains(again, `"status":"already enrolled"`) || !strings.Contains(again, got.Serial) {
			t.Fatalf("second enrol of %s: exit %d, %q, %s", id, code, again, stderr)
		}
		var after wire.DeviceDetail
		_ = json.Unmarshal([]byte(srv.MustCtl("device", "show", id, "--json")), &after)
		if len(after.Certificates) != 1 {
			t.Fatalf("second enrol of %s changed the registry: %+v", id, after)
		}
	}

	refusals := []struct {
		name   string
		args   []string
		code   int
		reason string
	}{
		{"error/device not in the batch", flags("fa-x"), 16, "not in the batch"},
		{"error/TPM missing", append(flags("fa-x")[:9], "-tpm-path", "tcp://127.0.0.1:1?ctrl=2", "-state-dir", t.TempDir()), 10, "TPM missing"},
		{"error/server unreachable", append([]string{"fa-x", "-provisioning-url", "https://127.0.0.1:1"}, flags("fa-x")[3:]...), 13, "server unreachable"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			out, stderr, code := station(t, agentBin, append([]string{"enrol"}, r.args...)...)
			if code != r.code || out != "" || !strings.HasPrefix(stderr, "device-agent enrol: "+r.reason+": ") || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one line %q", code, out, stderr, r.code, r.reason)
			}
		})
	}
	t.Run("error/refused by the broker", func(t *testing.T) {
		srv.MustCtl("device", "suspend", "fa-2", "--reason", "held at QA")
		_, stderr, code := station(t, agentBin, append([]string{"enrol"}, states["fa-2"]...)...)
		if code != 14 || !strings.HasPrefix(stderr, "device-agent enrol: refused by the broker: ") {
			t.Fatalf("suspended device: exit %d, %q", code, stderr)
		}
	})
}
