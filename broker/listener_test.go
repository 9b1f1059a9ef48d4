package broker

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
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

// awaitClosedAtDeadline waits for the server to close conn, and fails if
// it did so before the deadline timeout could have passed.
func awaitClosedAtDeadline(t *testing.T, conn net.Conn, timeout time.Duration) {
	t.Helper()
	defer conn.Close()
	took := awaitClosedByServer(t, conn, wait)
	// Never before the deadline (minus the handshake time the server had
	// already counted when dial returned).
	if took < timeout/3 {
		t.Fatalf("closed after %v, before the %v deadline could have passed", took, timeout)
	}
	t.Logf("closed after %v", took)
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
		t.Run(tt.name, func(t *testing.T) { awaitClosedAtDeadline(t, tt.dial(t), timeout) })
	}
	if f.b.Connected("idle") {
		t.Fatal("idle device reported connected")
	}
	f.logs.await(t, "tls handshake failed", "reason=timeout")
}

// TestMaxPending: with MaxPending 2, two idle sockets are held; a third
// evicts the oldest; and a device still gets in while idle sockets fill
// every slot, because it evicts the oldest idle one.
func TestMaxPending(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxPending = 2
		c.HandshakeTimeout = time.Hour // only the limit may close anything here
	})
	cert := f.device("through-the-crowd", nil)
	addr := f.b.Addr().String()
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	stillOpen := func(i int, conn net.Conn) {
		t.Helper()
		// Still open: a read times out instead of failing.
		if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("idle socket %d: read %v, want it still open", i, err)
		}
	}
	first := dial()
	second := dial()
	awaitPending(t, f, 2)
	third := dial()
	// Accept takes sockets in arrival order, so the first is the oldest.
	awaitClosedByServer(t, first, wait)
	f.logs.await(t, "oldest pending connection evicted", "reason=max_pending")
	stillOpen(2, second)
	stillOpen(3, third)
	awaitPending(t, f, 2)

	// Both slots are held by idle sockets; a device evicts one and gets in.
	c := f.mustConnect(&cert, "through-the-crowd")
	f.roundTrip(c, "through-the-crowd")
	awaitClosedByServer(t, second, wait)
	stillOpen(3, third)
	// An authenticated device does not hold a pending slot.
	if n := f.b.listener.pendingCount(); n != 1 {
		t.Fatalf("pending %d with one idle socket and one authenticated device, want 1", n)
	}
	third.Close()
	awaitPending(t, f, 0)
}

// awaitPending polls the pending count: the server notices hang-ups and
// accepts asynchronously and no event tells the test.
func awaitPending(t *testing.T, f *fixture, want int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for f.b.listener.pendingCount() != want {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, want %d", f.b.listener.pendingCount(), want)
		}
		time.Sleep(5 * time.Millisecond)
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
	header := mqttwire.AppendLength([]byte{0x10}, 256<<20-1)
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
