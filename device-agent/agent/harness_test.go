package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fleetgateBin is the real server, built once for the package's tests.
var fleetgateBin string

// TestMain builds the server, unless FLEETGATE_BIN names one already built.
func TestMain(m *testing.M) {
	if fleetgateBin = os.Getenv("FLEETGATE_BIN"); fleetgateBin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "agent-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fleetgateBin = filepath.Join(dir, "fleetgate")
	build := exec.Command("go", "build", "-o", fleetgateBin, "../../cmd/fleetgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fleetgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a child's or a logger's output for assertions.
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

// server is one `fleetgate serve` child process on loopback.
type server struct {
	t        *testing.T
	dataDir  string
	mqttAddr string
	apiURL   string
	cmd      *exec.Cmd
	logs     *syncBuffer
	exited   chan struct{}
}

var (
	mqttLine = regexp.MustCompile(`MQTT \(mTLS\):\s+(\S+)`)
	apiLine  = regexp.MustCompile(`API \(HTTPS\):\s+(https://\S+)`)
)

// startServer starts the server in dataDir on the given addresses
// ("127.0.0.1:0" for any port), with extra flags, and waits for its banner.
func startServer(t *testing.T, dataDir, mqttAddr, apiAddr string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data", dataDir, "--mqtt-addr", mqttAddr, "--api-addr", apiAddr,
		"--log-level", "debug"}, extra...)
	cmd := exec.Command(fleetgateBin, args...)
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
			if m := mqttLine.FindStringSubmatch(sc.Text()); m != nil {
				s.mqttAddr = m[1]
			}
			if m := apiLine.FindStringSubmatch(sc.Text()); m != nil {
				s.apiURL = m[1]
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
		t.Fatalf("no server banner within 60s:\n%s", s.logs.String())
	}
	return s
}

// newServer starts a server on fresh ports with a fresh data directory.
func newServer(t *testing.T) *server {
	return startServer(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0")
}

func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) caFile(name string) string { return filepath.Join(s.dataDir, "ca", name) }

// roots is the fleet root the agent trusts.
func (s *server) roots() *x509.CertPool {
	s.t.Helper()
	b, err := os.ReadFile(s.caFile("root.crt"))
	if err != nil {
		s.t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		s.t.Fatal("root.crt: no certificate")
	}
	return p
}

// ctl runs an operator command; it returns stdout, stderr and exit code.
func (s *server) ctl(args ...string) (string, string, int) {
	s.t.Helper()
	full := append(args, "--server", s.apiURL, "--cert", s.caFile("admin.crt"), "--key", s.caFile("admin.key"),
		"--cacert", s.caFile("root.crt"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fleetgateBin, full...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("fleetgate %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func (s *server) mustCtl(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.ctl(args...)
	if code != 0 {
		s.t.Fatalf("fleetgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// token makes a group that allows tokens (once) and one token for it.
func (s *server) token(group string) string {
	s.t.Helper()
	s.mustCtl("group", "put", group, "--allow-tokens")
	out := filepath.Join(s.t.TempDir(), "tokens")
	s.mustCtl("token", "create", "--group", group, "--count", "1", "--out", out)
	b, err := os.ReadFile(out)
	if err != nil {
		s.t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.Contains(tok, "\n") {
		s.t.Fatalf("token file holds %q", b)
	}
	return tok
}

// freeAddr returns a loopback address nothing listens on (for a server
// started after the agent).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testLogger returns a debug logger into a buffer, printed if t fails.
func testLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
