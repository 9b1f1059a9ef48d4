// Package test holds end-to-end tests: they build the real fleetgate binary,
// start it as a child process on loopback and drive it with the operator CLI
// and with MQTT clients that no one here wrote (Debian's mosquitto_pub and
// mosquitto_sub).
package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the fleetgate executable built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fleetgate")
	build := exec.Command("go", "build", "-o", binary, "../cmd/fleetgate")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fleetgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `fleetgate serve` child process.
type server struct {
	t        testing.TB
	dataDir  string
	mqttPort string
	apiURL   string
	opsURL   string
	cmd      *exec.Cmd
	logs     *syncBuffer
	exited   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	mqttLine = regexp.MustCompile(`MQTT \(mTLS\):\s+\S*:(\d+)`)
	apiLine  = regexp.MustCompile(`API \(HTTPS\):\s+(https://\S+)`)
	opsLine  = regexp.MustCompile(`ops \(metrics\):\s+(http://\S+)`)
)

// startServer starts `fleetgate serve` on ephemeral loopback ports in dataDir
// and waits for its banner.
func startServer(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data", dataDir, "--mqtt-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--log-level", "debug"}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, dataDir: dataDir, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})

	banner := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := mqttLine.FindStringSubmatch(line); m != nil {
				s.mqttPort = m[1]
			}
			if m := apiLine.FindStringSubmatch(line); m != nil {
				s.apiURL = m[1]
			}
			if m := opsLine.FindStringSubmatch(line); m != nil {
				s.opsURL = m[1]
				close(banner)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-banner:
	case <-s.exited:
		t.Fatalf("server exited before serving:\n%s", s.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not print its banner within 60s:\n%s", s.logs.String())
	}
	return s
}

func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) caFile(name string) string { return filepath.Join(s.dataDir, "ca", name) }

// ctl runs an operator command against this server and returns its stdout,
// stderr and exit code.
func (s *server) ctl(args ...string) (string, string, int) {
	s.t.Helper()
	full := append(args, "--server", s.apiURL,
		"--cert", s.caFile("admin.crt"), "--key", s.caFile("admin.key"), "--cacert", s.caFile("root.crt"))
	return runCmd(s.t, binary, full...)
}

// mustCtl runs an operator command that must succeed.
func (s *server) mustCtl(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.ctl(args...)
	if code != 0 {
		s.t.Fatalf("fleetgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func runCmd(t testing.TB, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}

// device registers id and issues it a certificate through the CLI; it
// returns the certificate (leaf + chain) and key file paths.
func (s *server) device(id string, registerArgs ...string) (certFile, keyFile string) {
	s.t.Helper()
	dir := s.t.TempDir()
	certFile, keyFile = filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
	s.mustCtl(append([]string{"device", "register", id}, registerArgs...)...)
	s.mustCtl("cert", "issue", id, "--new-key", keyFile, "--out", certFile)
	return certFile, keyFile
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's mosquitto-clients (apt-get install -y mosquitto-clients); .ci/run does this", name)
	}
	return p
}
