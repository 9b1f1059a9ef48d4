// Package launch starts a `fleetgate serve` process for a one-command
// demo or a benchmark: it finds the binary (given, next to the running
// program, or on PATH), gives it a data directory and loopback ports,
// reads the real addresses from its banner and stops it again. It builds
// nothing.
package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// ErrNoBinary is returned when no fleetgate binary can be found.
var ErrNoBinary = errors.New("launch: no fleetgate binary (build it with `make build` and pass --server-bin bin/fleetgate)")

// ErrNoBanner is returned when the server exits or stays silent instead
// of printing its banner.
var ErrNoBanner = errors.New("launch: the server did not start")

// Options say how to start the server.
type Options struct {
	// Binary is the fleetgate executable; empty looks next to this
	// program, then on PATH.
	Binary string
	// DataDir is the data directory; empty makes a temporary one that
	// Stop removes.
	DataDir string
	// Args are extra `fleetgate serve` flags.
	Args []string
	// Env is added to the server's environment (GOGC=400, ...).
	Env []string
	// Log receives the server's stderr; nil keeps the last 64 KiB for
	// error messages only.
	Log io.Writer
	// StartTimeout bounds the wait for the banner; zero means 60s.
	StartTimeout time.Duration
}

// Server is a running fleetgate process.
type Server struct {
	// MQTT is the broker's host:port; API the HTTPS base URL; Ops the
	// plain-HTTP ops URL ("" when disabled).
	MQTT, API, Ops string
	// DataDir holds registry.db and ca/.
	DataDir string
	// PID is the server's process ID, for memory readings.
	PID int

	cmd     *exec.Cmd
	tempDir bool
	exited  chan struct{}
	tail    *tailBuffer
	stopped sync.Once
}

var (
	mqttLine = regexp.MustCompile(`MQTT \(mTLS\):\s+(\S+)`)
	apiLine  = regexp.MustCompile(`API \(HTTPS\):\s+(https://\S+)`)
	opsLine  = regexp.MustCompile(`ops \(metrics\):\s+(\S+)`)
)

// Find returns the fleetgate binary to run: bin if set, else "fleetgate"
// next to the running executable, else on PATH.
func Find(bin string) (string, error) {
	if bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoBinary, err)
		}
		return filepath.Abs(bin)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "fleetgate")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("fleetgate"); err == nil {
		return p, nil
	}
	return "", ErrNoBinary
}

// Start runs `fleetgate serve` on 127.0.0.1 with ephemeral ports and
// waits for its banner. ctx bounds the start only; Stop ends the server.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := Find(o.Binary)
	if err != nil {
		return nil, err
	}
	s := &Server{DataDir: o.DataDir, exited: make(chan struct{}), tail: &tailBuffer{max: 64 << 10}}
	if s.DataDir == "" {
		if s.DataDir, err = os.MkdirTemp("", "fleetgate-sim-"); err != nil {
			return nil, fmt.Errorf("launch: %w", err)
		}
		s.tempDir = true
	}
	args := append([]string{"serve", "--data", s.DataDir, "--mqtt-addr", "127.0.0.1:0",
		"--api-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"}, o.Args...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), o.Env...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	var logw io.Writer = s.tail
	if o.Log != nil {
		logw = io.MultiWriter(s.tail, o.Log)
	}
	s.cmd.Stderr = logw
	// Its own process group: a Ctrl-C meant for the simulator reaches the
	// server only through Stop, after the devices have left.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("launch: start %s: %w", bin, err)
	}
	s.PID = s.cmd.Process.Pid
	go func() { _ = s.cmd.Wait(); close(s.exited) }()

	banner := make(chan struct{})
	go s.readBanner(stdout, banner)
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-banner:
		return s, nil
	case <-s.exited:
		err = fmt.Errorf("%w: it exited:\n%s", ErrNoBanner, s.tail.String())
	case <-t.C:
		err = fmt.Errorf("%w: no banner within %s:\n%s", ErrNoBanner, timeout, s.tail.String())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Stop()
	return nil, err
}

// readBanner fills the addresses from stdout and signals once the last
// banner line (ops) is read; the rest of stdout is discarded.
func (s *Server) readBanner(stdout io.Reader, banner chan<- struct{}) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if m := mqttLine.FindStringSubmatch(line); m != nil {
			s.MQTT = m[1]
		}
		if m := apiLine.FindStringSubmatch(line); m != nil {
			s.API = m[1]
		}
		if m := opsLine.FindStringSubmatch(line); m != nil {
			if m[1] != "disabled" {
				s.Ops = m[1]
			}
			close(banner)
			break
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
}

// CAFile returns the path of a file in the server's CA directory
// (root.crt, admin.crt, admin.key, server.crt, ...).
func (s *Server) CAFile(name string) string { return filepath.Join(s.DataDir, "ca", name) }

// Exited is closed when the process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Signal sends sig to the server: SIGHUP to reload, SIGKILL to crash it.
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Log returns the end of the server's stderr.
func (s *Server) Log() string { return s.tail.String() }

// Stop interrupts the server, waits up to 10 seconds, kills it if need
// be, and removes a temporary data directory.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(os.Interrupt)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
		s.cleanup()
	})
}

func (s *Server) cleanup() {
	if s.tempDir {
		_ = os.RemoveAll(s.DataDir)
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
