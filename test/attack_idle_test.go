package test

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countLog waits until the server log holds at least min lines containing
// substr and returns their number. Log lines reach the test through a
// pipe, so they are polled for, up to a generous deadline.
func (e *attackEnv) countLog(t *testing.T, substr string, min int) int {
	t.Helper()
	deadline := time.Now().Add(attackWait)
	for {
		n := strings.Count(e.s.Logs.String(), substr)
		if n >= min {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server log lines hold %q, want at least %d", n, substr, min)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleSockets: 5,000 sockets that take a pre-authentication slot and never
// use it (half never start TLS, half finish the handshake and never send
// CONNECT) are held open while 20 devices connect. The broker's pending
// set is full of them, so a device gets its slot by evicting the oldest
// idle socket, and every device gets in.
func idleSockets(t *testing.T, _ *attackEnv) {
	const idle, workers = 5000, 32
	// A server of its own, whose deadline outlasts the row on any machine:
	// every idle socket stays pending until evicted.
	const maxPending = 1024
	e := newAttackEnv(t, "--handshake-timeout", "2m", "--max-pending", itoa(maxPending))
	ids, certs := e.registerMany(t, "atk-idle", 20)
	before := e.connectEach(t, ids, certs)

	var mu sync.Mutex
	var held []net.Conn
	var rawOpen, tlsOpen, failed atomic.Int64
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				j := next.Add(1)
				if j > idle {
					return
				}
				var c net.Conn
				if j%2 == 0 {
					raw, err := net.DialTimeout("tcp", e.addr, attackWait)
					if err != nil {
						failed.Add(1)
						continue
					}
					c = raw
					rawOpen.Add(1)
				} else {
					m, err := dialMQTT(e.addr, e.tlsConfig(&e.attacker))
					if err != nil {
						// Evicted during the handshake by newer sockets.
						if m != nil {
							m.Close()
						}
						failed.Add(1)
						continue
					}
					c = m.tc
					tlsOpen.Add(1)
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const evictedLine = `msg="oldest pending connection evicted"`
	evictedBefore := e.countLog(t, evictedLine, idle-maxPending)
	during := e.connectEach(t, ids, certs)
	// The first device found the pending set full of idle sockets and
	// evicted one; each later one took the slot its predecessor left when
	// it authenticated. The other idle sockets stayed pending throughout.
	evictedAfter := e.countLog(t, evictedLine, evictedBefore+1)
	b, d := median(before), median(during)
	t.Logf("idle sockets opened: %d without TLS, %d after a TLS handshake, %d failed; evictions: %d while opening, %d while the devices connected",
		rawOpen.Load(), tlsOpen.Load(), failed.Load(), evictedBefore, evictedAfter-evictedBefore)
	t.Logf("device connect p50: %s before, %s during the attack (ratio %.2f)", b, d, float64(d)/float64(b))
}
