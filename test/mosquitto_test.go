package test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
)

// sub is a running mosquitto_sub with debug output, read line by line.
type sub struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan struct{}
	mu     sync.Mutex
	all    bytes.Buffer
	code   int
}

// mosqArgs are the TLS and identity arguments common to mosquitto_pub/sub.
func (s *server) mosqArgs(id, cert, key string) []string {
	return []string{"-h", "127.0.0.1", "-p", s.MQTTPort(), "--cafile", s.CAFile("root.crt"),
		"--cert", cert, "--key", key, "-i", id}
}

// startSub starts mosquitto_sub on topic and waits until its SUBACK arrived.
// It returns with the process still running (or exited, for a refusal).
func (s *server) startSub(t *testing.T, id, cert, key string, extra ...string) *sub {
	t.Helper()
	path := needTool(t, "mosquitto_sub")
	args := append(s.mosqArgs(id, cert, key), "-d", "-V", "mqttv311")
	args = append(args, extra...)
	// mosquitto_sub block-buffers stdout into a pipe; stdbuf (coreutils)
	// makes it line-buffered so each event can be awaited as it happens.
	args = append([]string{"-oL", "-eL", path}, args...)
	m := &sub{cmd: exec.Command("stdbuf", args...), lines: make(chan string, 1024), exited: make(chan struct{})}
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stderr = m.cmd.Stdout
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			m.all.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
			m.lines <- sc.Text()
		}
		err := m.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			m.code = ee.ExitCode()
		}
		close(m.lines)
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-m.exited
	})
	return m
}

// waitFor reads lines until one contains want; it fails the test if the
// process exits or the deadline passes first.
func (m *sub) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				t.Fatalf("mosquitto_sub exited (code %d) before printing %q; output:\n%s", m.code, want, m.output())
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("mosquitto_sub did not print %q within 30s; output:\n%s", want, m.output())
		}
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (m *sub) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	for {
		select {
		case _, ok := <-m.lines:
			if !ok {
				<-m.exited
				return m.code
			}
		case <-time.After(within):
			t.Fatalf("mosquitto_sub still running after %s; output:\n%s", within, m.output())
		}
	}
}

func (m *sub) output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.all.String()
}

// pub runs mosquitto_pub once and returns its combined output and exit code.
func (s *server) pub(t *testing.T, id, cert, key string, extra ...string) (string, int) {
	t.Helper()
	path := needTool(t, "mosquitto_pub")
	args := append(s.mosqArgs(id, cert, key), "-V", "mqttv311")
	args = append(args, extra...)
	out, errOut, code := fleetserver.Run(t, path, args...)
	return out + errOut, code
}
