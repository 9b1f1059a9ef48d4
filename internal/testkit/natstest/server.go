package natstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/sigstop"
)

// readyTimeout bounds the wait for a server (and its JetStream) to answer.
const readyTimeout = 30 * time.Second

// Server is one nats-server process; a cluster node keeps its ports and
// storage across Kill and Restart.
type Server struct {
	// URL is nats://127.0.0.1:PORT.
	URL string
	// Name is the server name (unique within a cluster).
	Name string

	bin     string
	args    []string
	monitor int

	mu  sync.Mutex
	cmd *exec.Cmd
	log *bytes.Buffer
}

// newServer prepares (does not start) a server with JetStream stored under
// dir; extra holds cluster arguments.
func newServer(t testing.TB, bin, name, dir string, extra []string) *Server {
	t.Helper()
	port, monitor := freePort(t), freePort(t)
	s := &Server{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Name: name, bin: bin,
		monitor: monitor, log: &bytes.Buffer{}}
	s.args = append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-m", fmt.Sprint(monitor),
		"-n", name, "-js", "-sd", dir}, extra...)
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("natstest: log of %s:\n%s", name, s.Log())
		}
	})
	return s
}

// start runs the process; it dies with the test process.
func (s *Server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = lockedWriter{s}, lockedWriter{s}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("natstest: start %s: %v", s.bin, err)
	}
}

// Kill SIGKILLs the server and waits for it to exit; a no-op when it is
// not running.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Pause stops the server's process (SIGSTOP) until Resume: its clients
// stay connected and what they send waits, as on a server that stalls.
// It returns once every thread of the process has stopped.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	sigstop.Pause(t, s.pid(t), s.Name)
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) { sigstop.Resume(t, s.pid(t), s.Name) }

// pid is the running server's process ID.
func (s *Server) pid(t testing.TB) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("natstest: %s is not running", s.Name)
	}
	return s.cmd.Process.Pid
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// waitHealthy polls the monitoring endpoint until the server reports
// healthy, which with JetStream includes a JetStream meta leader.
func (s *Server) waitHealthy(t testing.TB) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.monitor)
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := http.Get(url)
		body := ""
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode == http.StatusOK && strings.Contains(body, "ok") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: %s not healthy after %v (%v %s)\n%s", s.Name, readyTimeout, err, body, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedWriter appends the process's output to the server's log.
type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// Routes returns how many cluster routes the server has now (its /routez).
func (s *Server) Routes(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/routez", s.monitor))
	if err != nil {
		t.Fatalf("natstest: routez of %s: %v", s.Name, err)
	}
	defer resp.Body.Close()
	var rz struct {
		NumRoutes int `json:"num_routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rz); err != nil {
		t.Fatalf("natstest: routez of %s: %v", s.Name, err)
	}
	return rz.NumRoutes
}
