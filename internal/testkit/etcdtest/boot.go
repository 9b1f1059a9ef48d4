package etcdtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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
