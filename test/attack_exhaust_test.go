package test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// exhaustionRows attack the server's resources rather than its checks:
// memory, pre-authentication slots and CPU.
func exhaustionRows() []attackRow {
	return []attackRow{
		{name: "error/oversized remaining length without body x1000", run: oversizedRemainingLength},
		{name: "ok/20 devices connect while 5000 sockets idle before CONNECT", run: idleSockets},
		{name: "ok/CONNECT flood from one identity does not starve others", run: connectFlood},
		{name: "error/concurrent takeovers of one identity leave no second live connection", run: concurrentTakeovers},
	}
}

// oversizedRemainingLength: 1,000 connections each send a CONNECT header
// claiming 256 MiB and no body. Each must be closed, and the server's
// resident memory must stay flat (mochi would allocate the claimed size
// without a maximum packet size).
func oversizedRemainingLength(t *testing.T, e *attackEnv) {
	const n, workers = 1000, 8
	const maxGrowth = 32 << 20
	header := []byte{mqttwire.CONNECT << 4, 0xff, 0xff, 0xff, 0x7f} // 268,435,455 bytes announced
	pid := e.s.PID
	run := func(count int) (closed int64) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(count) {
					c, err := dialMQTT(e.addr, e.tlsConfig(&e.attacker))
					if err != nil {
						if c != nil {
							c.Close()
						}
						t.Errorf("TLS handshake: %v", err)
						return
					}
					if err := c.send(header); err == nil {
						if _, err := c.next(); isClosed(err) {
							atomic.AddInt64(&closed, 1)
						}
					}
					c.Close()
				}
			})
		}
		wg.Wait()
		return closed
	}
	run(50) // warm up: TLS and connection pools settle first
	before := vmRSS(t, pid)
	closed := run(n)
	after := vmRSS(t, pid)
	t.Logf("%d/%d connections closed by the server; VmRSS %d KiB before, %d KiB after (%+d KiB)",
		closed, n, before>>10, after>>10, (after-before)>>10)
	if closed != n {
		t.Fatalf("%d of %d connections were closed by the server; the rest stayed open or failed", closed, n)
	}
	if after-before > maxGrowth {
		t.Fatalf("server VmRSS grew by %d KiB over %d oversized headers (limit %d KiB)", (after-before)>>10, n, maxGrowth>>10)
	}
}

// isClosed reports whether a read error means the peer closed the
// connection (rather than our deadline passing).
func isClosed(err error) bool {
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// vmRSS reads a process's resident set size in bytes from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}

// timedConnect connects a device with a clean session, disconnects, and
// returns how long the TLS handshake, CONNECT and CONNACK took.
func (e *attackEnv) timedConnect(cert tls.Certificate, id string) (time.Duration, error) {
	start := time.Now()
	c, err := dialMQTT(e.addr, e.tlsConfig(&cert))
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return 0, fmt.Errorf("%s: TLS handshake: %w", id, err)
	}
	if err := c.send(session(id).Packet()); err != nil {
		return 0, fmt.Errorf("%s: CONNECT: %w", id, err)
	}
	code, _, err := c.connack()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: CONNACK: %w", id, err)
	}
	if code != 0 {
		return 0, fmt.Errorf("%s: CONNACK return code %d", id, code)
	}
	_ = c.send(mqttwire.Disconnect)
	return elapsed, nil
}

// median of durations (sorted in place).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
