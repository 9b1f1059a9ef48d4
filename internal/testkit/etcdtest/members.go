package etcdtest

import (
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

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
