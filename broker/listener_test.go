package broker

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// awaitClosedByServer reads from conn until the server closes it, and
// fails if that takes longer than bound. It returns how long it took.
func awaitClosedByServer(t *testing.T, conn net.Conn, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := conn.SetReadDeadline(start.Add(bound)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue // e.g. TLS session tickets; keep reading
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("server did not close the connection within %s", bound)
		}
		return time.Since(start)
	}
}

// TestHalfOpenClosedAtDeadline: a socket that never starts TLS, and one
// that completes TLS but never sends CONNECT, are closed at
// HandshakeTimeout.
func TestHalfOpenClosedAtDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	f := newFixture(t, func(c *Config) { c.HandshakeTimeout = timeout })
	cert := f.device("idle", nil)
	addr := f.b.Addr().String()

	tests := []struct {
		name string
		dial func(t *testing.T) net.Conn
	}{
		{
			name: "ok/raw TCP, no TLS",
			dial: func(t *testing.T) net.Conn {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				return conn
			},
		},
		{
			name: "ok/TLS done, no CONNECT",
			dial: func(t *testing.T) net.Conn {
				conn, err := tls.Dial("tcp", addr, f.tlsConfig(&cert))
				if err != nil {
					t.Fatal(err)
				}
				return conn
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := tt.dial(t)
			defer conn.Close()
			took := awaitClosedByServer(t, conn, wait)
			// Never before the deadline (minus the handshake time the
			// server had already counted when dial returned).
			if took < timeout/3 {
				t.Fatalf("closed after %v, before the %v deadline could have passed", took, timeout)
			}
			t.Logf("closed after %v", took)
		})
	}
	if f.b.Connected("idle") {
		t.Fatal("idle device reported connected")
	}
	f.logs.await(t, "tls handshake failed", "reason=timeout")
}

// TestMaxPending: with MaxPending 2, two idle sockets are held, a third is
// closed at once, and once the two are gone a device connects.
func TestMaxPending(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxPending = 2
		c.HandshakeTimeout = time.Hour // only the limit may close anything here
	})
	cert := f.device("after-the-crowd", nil)
	addr := f.b.Addr().String()
	var idle []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle = append(idle, conn)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	// Accept takes sockets in arrival order, so the third is the one over
	// the limit.
	awaitClosedByServer(t, third, wait)
	f.logs.await(t, "connection refused at accept", "reason=max_pending")
	for i, conn := range idle {
		// Still open: a read times out instead of failing.
		if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("idle socket %d: read %v, want it still open", i, err)
		}
	}
	if n := f.b.listener.pendingCount(); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}

	for _, conn := range idle {
		conn.Close()
	}
	// The server notices the hang-ups asynchronously; no event tells the
	// test, so poll the count.
	deadline := time.Now().Add(wait)
	for f.b.listener.pendingCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pending still %d after the idle sockets closed", f.b.listener.pendingCount())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := f.mustConnect(&cert, "after-the-crowd")
	f.roundTrip(c, "after-the-crowd")
	// An authenticated device does not hold a pending slot.
	if n := f.b.listener.pendingCount(); n != 0 {
		t.Fatalf("pending %d with one authenticated device, want 0", n)
	}
}

// TestOversizedConnect: a CONNECT whose header claims 256 MiB (the largest
// length MQTT can encode) is refused
// from the header alone, without allocating the claimed size.
func TestOversizedConnect(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.HandshakeTimeout = time.Hour })
	cert := f.device("big-talker", nil)
	conn, err := tls.Dial("tcp", f.b.Addr().String(), f.tlsConfig(&cert))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	header := append([]byte{0x10}, remainingLength(256<<20-1)...)
	if _, err := conn.Write(header); err != nil {
		t.Fatal(err)
	}
	awaitClosedByServer(t, conn, wait)
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
		t.Fatalf("allocated %d MiB while refusing the header", grown>>20)
	}
	f.logs.await(t, "connection ended", "packet too large")
}

// TestOversizedPublish: after CONNECT, a packet over MaxPacketSize ends the
// connection too.
func TestOversizedPublish(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxPacketSize = 1024 })
	cert := f.device("chatty", nil)
	c := f.mustConnect(&cert, "chatty")
	payload := make([]byte, 2048)
	_ = c.Publish("devices/chatty/x", 0, false, payload)
	f.awaitLost(c)
}
