// Package etcdtest runs a real etcd cluster for tests: member processes of
// the etcd binary on PATH (Debian's etcd-server) on 127.0.0.1, each with its
// own data directory, bootstrapped statically with timeouts short enough for
// loopback that a new leader is elected within about a second of a kill.
//
// Tests skip when etcd is not installed, unless FLEETGATE_REQUIRE_ETCD is set
// to a non-empty value (as in CI), in which case they fail. Everything a
// Cluster starts is stopped when the test ends, and every member process is
// also killed by the kernel if the test binary dies first.
//
// Methods without a testing.TB argument (Endpoint, Leader, Kill, Stop,
// Restart) report failures on the test passed to Start and must be called
// from that test's goroutine; Endpoints may be called from any.
package etcdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing etcd binary
// from a skipped test into a failed one.
const RequireEnv = "FLEETGATE_REQUIRE_ETCD"

const (
	// readyTimeout bounds the wait for members to serve clients after a
	// start or restart.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a member has to exit after SIGTERM before it is
	// sent SIGKILL.
	stopGrace = 10 * time.Second
	// opTimeout bounds one request of the cluster's own probes.
	opTimeout = 5 * time.Second
	// A readiness probe may take probeTimeout; one that times out is
	// retried with twice the time, up to maxProbeTimeout. probeEvery spaces
	// the probes.
	probeTimeout    = 100 * time.Millisecond
	maxProbeTimeout = 2 * time.Second
	probeEvery      = 25 * time.Millisecond
	// startAttempts bounds the whole-cluster starts when a chosen port was
	// taken before etcd could bind it.
	startAttempts = 5
	// logTail is the number of lines of each member's log shown when a test
	// fails.
	logTail = 30
	// Raft timing for loopback, in milliseconds.
	heartbeatMS = 50
	electionMS  = 500
)

// errPortInUse marks a member that exited because its port was taken.
var errPortInUse = errors.New("address already in use")

// clusters numbers the clusters of this process, for unique cluster tokens.
var clusters atomic.Int64

// Cluster is a running etcd cluster of member processes on 127.0.0.1.
type Cluster struct {
	t   testing.TB
	bin string
	dir string // the test's temporary directory; one subdirectory per start attempt

	// members is set once by Start; the members' processes change only on
	// the test's goroutine.
	members []*member

	// tls, when set, makes every member serve clients over TLS and require
	// a client certificate (StartTLS).
	tls *TLSFiles
}

// Start starts an etcd cluster of n members and waits until every member
// serves linearizable reads, failing the test (with the tail of each member's
// log) if that takes more than 30 seconds. It skips the test when etcd is not
// installed and RequireEnv is not set. The cluster is stopped when the test
// ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return start(t, n, nil)
}

// StartTLS starts a cluster as Start does whose members serve clients only
// over TLS and only to holders of a client certificate from a CA made for
// the test. The files are returned for the client under test.
func StartTLS(t testing.TB, n int) (*Cluster, *TLSFiles) {
	t.Helper()
	files, err := WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatalf("etcdtest: TLS files: %v", err)
	}
	return start(t, n, files), files
}

func start(t testing.TB, n int, files *TLSFiles) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("etcdtest: cluster of %d members: want at least 1", n)
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		msg := fmt.Sprintf("etcd not found (%v): install Debian's etcd-server (apt-get install -y etcd-server; .ci/run does this)", err)
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
		}
		t.Skipf("%s; set %s=1 to fail instead of skipping", msg, RequireEnv)
	}
	c := &Cluster{t: t, bin: bin, dir: t.TempDir(), tls: files}
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(c.cleanup)

	for attempt := 1; ; attempt++ {
		err := c.boot(attempt, n)
		if err == nil {
			return c
		}
		if errors.Is(err, errPortInUse) && attempt < startAttempts {
			t.Logf("etcdtest: start attempt %d: %v; retrying on other ports", attempt, err)
			c.killAll()
			continue
		}
		t.Fatalf("etcdtest: start %d members: %v", n, err)
	}
}

// StartShared starts a cluster of n members that outlives any one test: a
// package's TestMain starts it before m.Run and calls stop afterwards. Only
// Endpoints may be used on it (the methods that report to a test have
// none). It returns an error when etcd is not installed.
func StartShared(n int) (c *Cluster, stop func(), err error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, nil, fmt.Errorf("etcd not found (%w): install Debian's etcd-server", err)
	}
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, nil, err
	}
	c = &Cluster{bin: bin, dir: dir}
	stop = func() {
		for _, m := range c.members {
			if m.running() {
				m.stop()
			}
		}
		_ = os.RemoveAll(dir)
	}
	for attempt := 1; ; attempt++ {
		err := c.boot(attempt, n)
		if err == nil {
			return c, stop, nil
		}
		c.killAll()
		if !errors.Is(err, errPortInUse) || attempt >= startAttempts {
			stop()
			return nil, nil, fmt.Errorf("etcdtest: start %d members: %w", n, err)
		}
	}
}
