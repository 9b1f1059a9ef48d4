package store

import (
	"bufio"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashHelperEnv names the registry the helper process enrolls into; unset,
// TestCrashHelperProcess does nothing.
const crashHelperEnv = "FLEETGATE_CRASH_HELPER"

// TestCrashDuringEnrollment kills a process that enrolls devices by token, at
// random moments, and checks after each kill that the registry reopens
// consistent: every consumed token has its device and certificate, nothing
// exists without its token, serials stay unique and the counter continues
// above them. FLEETGATE_CRASH_ITER sets the number of kills (default 20).
func TestCrashDuringEnrollment(t *testing.T) {
	iterations := 20
	if s := os.Getenv("FLEETGATE_CRASH_ITER"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLEETGATE_CRASH_ITER=%q is not a positive number", s)
		}
		iterations = n
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustGroup(t, db, "sim", false, true)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range iterations {
		// Every fourth kill lands anywhere from start-up on, the others
		// while enrollments are under way.
		waitReady := i%4 != 0
		runAndKill(t, path, waitReady, time.Duration(rand.Int64N(int64(30*time.Millisecond))))
		db, err := Open(path, Options{LockTimeout: 30 * time.Second})
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", i, err)
		}
		checkAfterCrash(t, i, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the helper process on path and SIGKILLs it after delay,
// counted from its first enrollment when waitReady is set.
func runAndKill(t *testing.T, path string, waitReady bool, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				break
			}
		}
		for sc.Scan() { // drain, so the child never blocks on its output
		}
	}()
	if waitReady {
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("helper not ready within 60s; stderr: %s", stderr.String())
		}
	}
	time.Sleep(delay) // the crash moment is random by design, not a synchronisation
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill helper: %v; stderr: %s", err, stderr.String())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v before it was killed; stderr: %s", err, stderr.String())
	}
}

// TestCrashHelperProcess is the process TestCrashDuringEnrollment kills: it
// enrolls devices by token from 8 goroutines until it dies, and prints
// "ready" after its first enrollment.
func TestCrashHelperProcess(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		os.Exit(2)
	}
	db, err := Open(path, Options{LockTimeout: 30 * time.Second})
	if err != nil {
		fail(err)
	}
	var once sync.Once
	for round := 0; ; round++ {
		tokens, err := db.CreateTokens(t.Context(), "sim", 16, time.Hour, system)
		if err != nil {
			fail(err)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for _, token := range tokens[w*2 : w*2+2] {
					serial, err := db.AllocateSerial(t.Context())
					if err != nil {
						fail(err)
					}
					id := fmt.Sprintf("crash-%d-%d-%s", os.Getpid(), round, token[4:12])
					e := tokenEnrollment(token, id, serial.Text(16))
					if err := db.CompleteEnrollment(t.Context(), e, system); err != nil {
						fail(err)
					}
					once.Do(func() { fmt.Println("ready") })
				}
			})
		}
		wg.Wait()
	}
}

// checkAfterCrash checks the invariants an enrollment crash must keep.
func checkAfterCrash(t *testing.T, kill int, db *DB) {
	t.Helper()
	fail := func(format string, args ...any) { t.Fatalf("after kill %d: "+format, append([]any{kill}, args...)...) }
	if err := db.Check(); err != nil {
		fail("%v", err)
	}
	tokens, err := db.Tokens(t.Context(), "")
	if err != nil {
		fail("%v", err)
	}
	used := 0
	for _, tok := range tokens {
		if tok.UsedAt.IsZero() {
			continue
		}
		used++
		d, err := db.Device(t.Context(), tok.UsedBy)
		if err != nil || d.Group != tok.Group {
			fail("token used by %s, but the device is %+v, %v", tok.UsedBy, d, err)
		}
		certs, err := db.Certificates(t.Context(), d.ID)
		if err != nil || len(certs) != 1 || certs[0].Attestation != AttestToken {
			fail("device %s enrolled by token has certificates %+v, %v", d.ID, certs, err)
		}
	}
	devices := deviceCount(t, db)
	enrolled, err := db.Audit(t.Context(), AuditFilter{Action: "device.enroll"})
	if err != nil {
		fail("%v", err)
	}
	if devices != used || len(enrolled) != used {
		fail("%d devices and %d enrollment events for %d consumed tokens", devices, len(enrolled), used)
	}
	certs, err := db.Certificates(t.Context(), "")
	if err != nil {
		fail("%v", err)
	}
	counters := map[uint64]string{}
	highest := new(big.Int)
	for _, c := range certs {
		if _, err := db.Device(t.Context(), c.DeviceID); err != nil {
			fail("certificate %s of a missing device: %v", c.Serial, err)
		}
		s, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			fail("serial %q is not hex", c.Serial)
		}
		if other, dup := counters[serialHigh(s)]; dup {
			fail("serials %s and %s share counter %d", other, c.Serial, serialHigh(s))
		}
		counters[serialHigh(s)] = c.Serial
		if s.Cmp(highest) > 0 {
			highest = s
		}
	}
	next, err := db.AllocateSerial(t.Context())
	if err != nil {
		fail("%v", err)
	}
	t.Logf("kill %d: %d devices enrolled so far, %d tokens", kill, used, len(tokens))
	if next.Cmp(highest) <= 0 || serialHigh(next) <= serialHigh(highest) {
		fail("AllocateSerial returned %s, not above the recorded %s", next.Text(16), highest.Text(16))
	}
}

// syncBuffer collects a child's stderr; exec writes it from its own
// goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
