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
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
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

// member is one etcd process; its ports and data directory stay the same
// across restarts.
type member struct {
	name       string
	dataDir    string
	logFile    string
	clientPort int
	peerPort   int

	// Set by launch; done is closed when the process has exited, after
	// exitErr is set. Both are nil before the first launch. logFrom is
	// where the current process's output starts in the log file.
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	logFrom int64
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
	files, err := writeTLSFiles(t.TempDir())
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

// boot starts n members on fresh ports and data directories and waits until
// they are ready.
func (c *Cluster) boot(attempt, n int) error {
	ports, err := pickPorts(2 * n)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.dir, "start"+strconv.Itoa(attempt))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create member directory: %w", err)
	}
	ms := make([]*member, n)
	initial := make([]string, n)
	for i := range ms {
		name := "m" + strconv.Itoa(i)
		ms[i] = &member{
			name:       name,
			dataDir:    filepath.Join(dir, name+".etcd"), // created by etcd, with the permissions it wants
			logFile:    filepath.Join(dir, name+".log"),
			clientPort: ports[2*i],
			peerPort:   ports[2*i+1],
		}
		initial[i] = name + "=" + ms[i].peerURL()
	}
	c.members = ms

	token := fmt.Sprintf("etcdtest-%d-%d-%d", os.Getpid(), clusters.Add(1), attempt)
	for _, m := range ms {
		args := []string{
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", token,
		}
		if err := c.launch(m, args); err != nil {
			return err
		}
	}
	return c.waitReady(ms)
}

// launch starts m's process, appending its output to m's log file. extra
// holds the bootstrap flags.
func (c *Cluster) launch(m *member, extra []string) error {
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", c.clientURL(m),
		"--advertise-client-urls", c.clientURL(m),
		"--listen-peer-urls", m.peerURL(),
		"--initial-advertise-peer-urls", m.peerURL(),
		"--heartbeat-interval", strconv.Itoa(heartbeatMS),
		"--election-timeout", strconv.Itoa(electionMS),
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", "warn",
	}
	if c.tls != nil {
		args = append(args, "--cert-file", c.tls.ServerCert, "--key-file", c.tls.ServerKey,
			"--trusted-ca-file", c.tls.CA, "--client-cert-auth")
	}
	args = append(args, extra...)
	logf, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("member %s: open log: %w", m.name, err)
	}
	defer logf.Close() // the child holds its own descriptor
	fi, err := logf.Stat()
	if err != nil {
		return fmt.Errorf("member %s: log: %w", m.name, err)
	}
	fmt.Fprintf(logf, "=== etcdtest: %s %s\n", c.bin, strings.Join(args, " "))

	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = etcdEnv()
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("member %s: start %s: %w", m.name, c.bin, err)
	}
	done := make(chan struct{})
	m.cmd, m.done, m.exitErr, m.logFrom = cmd, done, nil, fi.Size()
	go func() {
		err := cmd.Wait()
		m.exitErr = err // read only after done is closed
		close(done)
	}()
	return nil
}

// etcdEnv is the environment of a member: ours without ETCD_* variables,
// which etcd would read as flags.
func etcdEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady waits until each of ms answers a linearizable read on its own
// endpoint: it has joined the cluster, a leader is known and it has applied
// what the leader had committed.
func (c *Cluster) waitReady(ms []*member) error {
	deadline := time.Now().Add(readyTimeout)
	for _, m := range ms {
		if err := c.waitMember(m, deadline); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitMember(m *member, deadline time.Time) error {
	done := m.done
	// First the port: a client that finds it closed backs off for a second
	// before it dials again.
	for {
		conn, err := net.DialTimeout("tcp", m.endpoint(), maxProbeTimeout)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member %s (%s) not listening after %v: %w", m.name, m.endpoint(), readyTimeout, err)
		}
		select {
		case <-done:
			return m.exited()
		case <-time.After(probeEvery):
		}
	}
	cli, err := c.newClient([]string{m.endpoint()})
	if err != nil {
		return fmt.Errorf("member %s: %w", m.name, err)
	}
	defer cli.Close()
	probe := probeTimeout
	for {
		select {
		case <-done:
			return m.exited()
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), probe)
		_, err := cli.Get(ctx, "etcdtest/ready")
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		if timedOut {
			probe = min(2*probe, maxProbeTimeout)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member %s (%s) not ready after %v: %w", m.name, m.endpoint(), readyTimeout, err)
		}
		select {
		case <-done:
			return m.exited()
		case <-time.After(probeEvery):
		}
	}
}

// exited describes the exit of m's process, which must have exited; it wraps
// errPortInUse when the process's log says a port was taken.
func (m *member) exited() error {
	err := fmt.Errorf("member %s exited: %v", m.name, m.exitErr)
	log, rerr := os.ReadFile(m.logFile)
	if rerr == nil && int64(len(log)) >= m.logFrom && bytes.Contains(log[m.logFrom:], []byte("address already in use")) {
		return fmt.Errorf("%w (port %d or %d): %w", err, m.clientPort, m.peerPort, errPortInUse)
	}
	return err
}

// Endpoints returns the client endpoints (host:port) of all members, in
// member order, running or not.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.endpoint()
	}
	return eps
}

// Endpoint returns the client endpoint (host:port) of member i.
func (c *Cluster) Endpoint(i int) string {
	c.t.Helper()
	return c.member(i).endpoint()
}

// Client returns a client of the given endpoints, all members' when none are
// given, closed when t ends.
func (c *Cluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := c.newClient(endpoints)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func (c *Cluster) newClient(endpoints []string) (*clientv3.Client, error) {
	var tc *tls.Config
	if c.tls != nil {
		var err error
		if tc, err = c.tls.ClientConfig(); err != nil {
			return nil, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: opTimeout,
		TLS:         tc,
		Logger:      zap.NewNop(), // failures reach the test through the errors
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %s: %w", strings.Join(endpoints, ","), err)
	}
	return cli, nil
}

// Leader returns the index of the member that is the leader, waiting (up to
// 30 seconds) while an election is under way.
func (c *Cluster) Leader() int {
	c.t.Helper()
	cli, err := c.newClient(c.Endpoints())
	if err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	deadline := time.Now().Add(readyTimeout)
	var last error
	for {
		for i, m := range c.members {
			if !m.running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), maxProbeTimeout)
			st, err := cli.Status(ctx, m.endpoint())
			cancel()
			switch {
			case err != nil:
				last = fmt.Errorf("status of %s: %w", m.name, err)
			case st.Leader != 0 && st.Leader == st.Header.MemberId:
				return i
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("etcdtest: no leader among the running members after %v (last error: %v)", readyTimeout, last)
		}
		time.Sleep(probeEvery) // polling interval: the election has no event to await from outside
	}
}

// Kill sends SIGKILL to member i and waits for it to exit.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	m := c.member(i)
	if !m.running() {
		c.t.Fatalf("etcdtest: Kill(%d): member %s is not running", i, m.name)
	}
	m.signal(syscall.SIGKILL)
	<-m.done
}

// Stop sends SIGTERM to member i and waits for it to exit, sending SIGKILL
// if it has not within 10 seconds.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	m := c.member(i)
	if !m.running() {
		c.t.Fatalf("etcdtest: Stop(%d): member %s is not running", i, m.name)
	}
	m.stop()
}

// Restart starts member i again, stopped or killed, on its data directory
// and ports. When a quorum of members is then running it waits (up to 30
// seconds) until every running member serves linearizable reads, so the
// restarted member has caught up with what was committed; without a quorum
// no member can serve and it returns once the process is started.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.member(i)
	if m.running() {
		c.t.Fatalf("etcdtest: Restart(%d): member %s is running", i, m.name)
	}
	if err := c.launch(m, []string{"--initial-cluster-state", "existing"}); err != nil {
		c.t.Fatalf("etcdtest: Restart(%d): %v", i, err)
	}
	var running []*member
	for _, o := range c.members {
		if o.running() {
			running = append(running, o)
		}
	}
	if len(running) <= len(c.members)/2 {
		return
	}
	if err := c.waitReady(running); err != nil {
		c.t.Fatalf("etcdtest: Restart(%d): %v", i, err)
	}
}

// Compact compacts the key-value store at its current revision and waits
// until the compacted revisions are physically removed; it returns that
// revision. Reads and watches from earlier revisions then fail with
// rpctypes.ErrCompacted.
func (c *Cluster) Compact(t testing.TB) int64 {
	t.Helper()
	cli, err := c.newClient(c.Endpoints())
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, "etcdtest/compact", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcdtest: compact: current revision: %v", err)
	}
	rev := resp.Header.Revision
	// Compacting twice at the same revision is refused as compacted; the
	// store is compacted at rev all the same.
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("etcdtest: compact at revision %d: %v", rev, err)
	}
	return rev
}

// member returns member i, failing the test when there is none.
func (c *Cluster) member(i int) *member {
	c.t.Helper()
	if i < 0 || i >= len(c.members) {
		c.t.Fatalf("etcdtest: no member %d in a cluster of %d", i, len(c.members))
	}
	return c.members[i]
}

// killAll kills the members of a failed start.
func (c *Cluster) killAll() {
	for _, m := range c.members {
		if m.running() {
			m.signal(syscall.SIGKILL)
			<-m.done
		}
	}
}

// cleanup stops every member (SIGTERM, then SIGKILL) and, when the test
// failed, logs the tail of each member's log. Members stop one after the
// other: a leader told to stop hands its leadership to a connected follower
// first, which takes seconds when that follower is stopping at the same time.
func (c *Cluster) cleanup() {
	ms := c.members
	for _, m := range ms {
		if m.running() {
			m.stop()
		}
	}
	if !c.t.Failed() {
		return
	}
	for _, m := range ms {
		c.t.Logf("etcdtest: last %d lines of %s's log (%s):\n%s", logTail, m.name, m.logFile, tail(m.logFile, logTail))
	}
}

func (m *member) running() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

func (m *member) signal(sig syscall.Signal) {
	// An error means the process has exited already, which done tells.
	_ = m.cmd.Process.Signal(sig)
}

// stop sends SIGTERM, then SIGKILL after stopGrace, and waits for the exit.
func (m *member) stop() {
	m.signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(stopGrace):
		m.signal(syscall.SIGKILL)
		<-m.done
	}
}

func (m *member) endpoint() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.clientPort)) }
func (c *Cluster) clientURL(m *member) string {
	if c.tls != nil {
		return "https://" + m.endpoint()
	}
	return "http://" + m.endpoint()
}
func (m *member) peerURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(m.peerPort))
}

// pickPorts chooses the ports of a start attempt; tests replace it.
var pickPorts = freePorts

// freePorts returns n distinct loopback ports that were free a moment ago;
// the listeners are all held open until every port is chosen.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil {
		lines = append(lines, fmt.Sprintf("(read %s: %v)", path, err))
	}
	return strings.Join(lines, "\n")
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
