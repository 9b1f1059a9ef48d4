//go:build qemu

package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
	"github.com/fleetgate/fleetgate/internal/testkit/swtpm"
)

// maxBinary is the size goal of each cross-built agent.
const maxBinary = 8 << 20

// TestQEMU runs the linux/arm64 device-agent binary under qemu-aarch64
// against a real server on loopback: enroll (software key, and swtpm over
// TCP), connect, publish, rotate on schedule, get revoked (exit code 3).
// It logs the binary sizes and the resident memory in steady state.
func TestQEMU(t *testing.T) {
	for _, tool := range []string{"qemu-aarch64", "swtpm", "swtpm_setup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: apt-get install -y qemu-user swtpm swtpm-tools", tool)
		}
	}
	bin, native := crossBuild(t)
	qemu := []string{"qemu-aarch64", bin}
	tpm := swtpm.Start(t)
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "--cert-lifetime", "1h", "--ek-roots", tpm.RootsFile)

	t.Run("ok/software", func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "token")
		if err := os.WriteFile(tokenFile, []byte(srv.Token("boards")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		runDevice(t, srv, qemu, "q-sw", map[string]any{"key_source": KeySoftware, "token_file": tokenFile})
	})
	t.Run("ok/swtpm", func(t *testing.T) {
		preRegisterHash(t, srv, "q-tpm", tpm.EKHash(t))
		runDevice(t, srv, qemu, "q-tpm", map[string]any{"key_source": KeyTPM, "tpm_path": tpm.Path})
	})
	// The same software device natively: the agent's own memory, without
	// qemu's (its translated code and its own heap).
	t.Run("ok/software-native", func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "token")
		if err := os.WriteFile(tokenFile, []byte(srv.Token("boards")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		runDevice(t, srv, []string{native}, "n-sw", map[string]any{"key_source": KeySoftware, "token_file": tokenFile})
	})
	t.Run("ok/qemu-baseline", func(t *testing.T) {
		out := bins.Build(t, "./testdata/idle", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		cmd := exec.Command("qemu-aarch64", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		t.Logf("qemu-aarch64 running an idle Go program: %s", sampleRSS(t, cmd.Process.Pid))
	})
}

// crossBuild builds the agent for linux/arm64 and linux/arm (v7) as the
// Makefile's cross target does, checks their size and returns the arm64
// one, and a native build for comparison.
func crossBuild(t *testing.T) (arm64, native string) {
	t.Helper()
	const pkg = "github.com/fleetgate/fleetgate/device-agent/cmd/device-agent"
	native = bins.Build(t, pkg)
	for _, target := range []struct{ arch, arm string }{{"arm64", ""}, {"arm", "7"}} {
		out := bins.Build(t, pkg, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+target.arch, "GOARM="+target.arm)
		name := "device-agent-linux-" + target.arch + target.arm
		info, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes (%.2f MiB)", name, info.Size(), float64(info.Size())/(1<<20))
		if info.Size() > maxBinary {
			t.Errorf("%s is %d bytes, over the %d goal", name, info.Size(), maxBinary)
		}
		if target.arch == "arm64" {
			arm64 = out
		}
	}
	return arm64, native
}

// runDevice runs one agent binary (command: the binary, or qemu and the
// binary) with the given key settings and walks it through its life.
func runDevice(t *testing.T, srv *server, command []string, id string, keys map[string]any) {
	obs := srv.observer(t, "devices/"+id+"/#")
	cfg := map[string]any{
		"device_id": id, "provisioning_url": srv.API, "broker": srv.MQTT, "ca_file": srv.CAFile("root.crt"),
		"state_dir": t.TempDir(), "rotate_at": 0.02, "rotate_jitter": -1, "backoff_min": "200ms", "backoff_max": "2s",
		"heartbeat": "1s", "log_level": "debug", "request_timeout": "5m", "connect_timeout": "2m",
	}
	for k, v := range keys {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	cmd := exec.Command(command[0], append(command[1:], "-config", cfgFile)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("agent output:\n%s", logs.String())
		}
	})

	topic := "devices/" + id + "/"
	if m := obs.next(t, topic+"status"); string(m.Payload()) != "online" {
		t.Fatalf("status %q", m.Payload())
	}
	var first heartbeatMsg
	for range 3 { // publish, and let it settle
		first = nextHeartbeat(t, obs, topic)
	}
	rss := sampleRSS(t, cmd.Process.Pid)
	t.Logf("%s: steady-state RSS of %s: %s", id, filepath.Base(command[0]), rss)

	// rotate_at 0.02 of a 1h certificate: the agent rotates by itself and
	// its heartbeats name the new certificate.
	deadline := time.After(5 * time.Minute)
	for {
		hb := nextHeartbeat(t, obs, topic)
		if hb.Serial != first.Serial {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("no rotation within 5 minutes")
		default:
		}
	}
	if !strings.Contains(logs.String(), "msg=rotated") {
		t.Error("the rotation was not logged")
	}

	srv.MustCtl("device", "revoke", id, "--reason", "end of test")
	select {
	case code := <-exited:
		if code != 3 {
			t.Errorf("exit code %d after revocation, want 3", code)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the agent did not stop after revocation")
	}
	if out := logs.String(); !strings.Contains(out, "revoked or suspended") {
		t.Errorf("the agent did not say it was revoked:\n%s", out)
	}
	if n := strings.Count(logs.String(), "device-agent starting"); n != 1 {
		t.Errorf("started %d times", n)
	}
}

type heartbeatMsg struct {
	Uptime int64  `json:"uptime_s"`
	Serial string `json:"serial"`
	Broker string `json:"broker"`
}

// nextHeartbeat returns the next heartbeat on topic that names the
// agent's certificate. Heartbeats made before the agent had enrolled (no
// serial, no broker: an emulated board under load may tick before its
// enrollment is done) queue and arrive first; up to maxEarlyHeartbeats of
// them are skipped.
func nextHeartbeat(t *testing.T, obs *observer, topic string) heartbeatMsg {
	t.Helper()
	const maxEarlyHeartbeats = 5
	for range maxEarlyHeartbeats {
		m := obs.next(t, topic+"heartbeat")
		var hb heartbeatMsg
		if err := json.Unmarshal(m.Payload(), &hb); err != nil {
			t.Fatalf("heartbeat %q: %v", m.Payload(), err)
		}
		if hb.Serial != "" {
			return hb
		}
		if hb.Broker != "" {
			t.Fatalf("heartbeat %q: sent over a session, but names no serial", m.Payload())
		}
	}
	t.Fatalf("%d heartbeats without a serial: the agent never reported its certificate", maxEarlyHeartbeats)
	return heartbeatMsg{}
}

// sampleRSS reads VmRSS and VmHWM of pid five times, a second apart.
func sampleRSS(t *testing.T, pid int) string {
	t.Helper()
	var samples []string
	var hwm string
	for range 5 {
		time.Sleep(time.Second)
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			switch {
			case len(fields) >= 2 && fields[0] == "VmRSS:":
				samples = append(samples, fields[1])
			case len(fields) >= 2 && fields[0] == "VmHWM:":
				hwm = fields[1]
			}
		}
		f.Close()
	}
	return fmt.Sprintf("VmRSS %s KiB (samples), VmHWM %s KiB", strings.Join(samples, "/"), hwm)
}
