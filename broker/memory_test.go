package broker

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// TestMemoryReleaseProvides: the hook counts sessions and must never
// take part in authentication or ACL decisions (mochi ORs those).
func TestMemoryReleaseProvides(t *testing.T) {
	m := newMemoryRelease(0, 0, nil)
	for _, tc := range []struct {
		name  string
		event byte
		want  bool
	}{
		{"ok/session established", mqtt.OnSessionEstablished, true},
		{"ok/disconnect", mqtt.OnDisconnect, true},
		{"error/connect authenticate", mqtt.OnConnectAuthenticate, false},
		{"error/acl check", mqtt.OnACLCheck, false},
		{"error/connect", mqtt.OnConnect, false},
		{"error/publish", mqtt.OnPublish, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.Provides(tc.event); got != tc.want {
				t.Errorf("Provides(%d) = %v, want %v", tc.event, got, tc.want)
			}
		})
	}
}

// releaseClock drives a memoryRelease's loop with synthetic ticks and
// reports each release.
type releaseClock struct {
	m        *memoryRelease
	ticks    chan time.Time
	now      time.Time
	releases chan struct{}
	msgs     atomic.Uint64 // messages the broker has seen
	gcPct    atomic.Int64  // the collector target the loop set (starts at 400)
}

func newReleaseClock(t *testing.T, quiet time.Duration, minChurn uint64) *releaseClock {
	c := &releaseClock{ticks: make(chan time.Time), now: time.Unix(1000, 0), releases: make(chan struct{}, 16)}
	c.m = newMemoryRelease(quiet, minChurn, nil)
	c.m.free = func() { c.releases <- struct{}{} }
	c.m.messages = c.msgs.Load
	c.gcPct.Store(400)
	c.m.gc.set = func(p int) int { return int(c.gcPct.Swap(int64(p))) }
	c.m.gcQuiet = 2 * quiet
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.m.loop(ctx, c.ticks) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// advance moves the clock by d in one tick; the loop has handled the
// tick when advance returns, because ticks is unbuffered and the next
// advance or count waits for it.
func (c *releaseClock) advance(d time.Duration) {
	c.now = c.now.Add(d)
	c.ticks <- c.now
}

// count returns the releases so far, after the loop handled every tick
// sent (one more tick that changes nothing is the barrier).
func (c *releaseClock) count() int {
	c.ticks <- c.now
	return len(c.releases)
}

func (c *releaseClock) churn(n int) {
	for range n {
		c.m.OnSessionEstablished(nil, packets.Packet{})
	}
}

// TestMemoryReleaseAfterBurst: one release once the churn has stopped
// for quiet, none while it goes on, none for a trickle, and none again
// until the next burst.
func TestMemoryReleaseAfterBurst(t *testing.T) {
	const quiet = time.Second
	c := newReleaseClock(t, quiet, 10)
	c.advance(0)

	// A trickle below minChurn never releases.
	c.churn(5)
	c.advance(100 * time.Millisecond)
	c.advance(5 * quiet)
	if n := c.count(); n != 0 {
		t.Fatalf("ok/trickle: %d releases, want 0", n)
	}

	// A storm: churn at every tick for far longer than quiet.
	for range 40 {
		c.churn(100)
		c.advance(quiet / 4)
	}
	if n := c.count(); n != 0 {
		t.Fatalf("ok/storm: %d releases during the storm, want 0", n)
	}
	c.advance(quiet / 2)
	if n := c.count(); n != 0 {
		t.Fatalf("ok/storm: released %v after the last change, before quiet (%v)", quiet/2, quiet)
	}
	c.advance(quiet)
	if n := c.count(); n != 1 {
		t.Fatalf("ok/after storm: %d releases, want 1", n)
	}
	c.advance(10 * quiet)
	if n := c.count(); n != 1 {
		t.Fatalf("ok/idle: %d releases, want still 1 (nothing changed since)", n)
	}

	// The next burst releases again.
	c.churn(50)
	c.advance(quiet / 4)
	c.advance(2 * quiet)
	if n := c.count(); n != 2 {
		t.Fatalf("ok/second burst: %d releases, want 2", n)
	}
}

// TestMemoryReleaseCountsMochiSessions: registered on a real mochi
// server, the hook sees each session start and end.
func TestMemoryReleaseCountsMochiSessions(t *testing.T) {
	server := mqtt.New(&mqtt.Options{InlineClient: false})
	m := newMemoryRelease(time.Hour, 1, nil)
	if err := server.AddHook(new(memTestAllow), nil); err != nil {
		t.Fatal(err)
	}
	if err := server.AddHook(m, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := server.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := server.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })

	for i := range 3 {
		conn, err := net.DialTimeout("tcp", l.Address(), wait)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(wait))
		if _, err := conn.Write(mqttwire.Connect("mem-test", 60, true)); err != nil {
			t.Fatal(err)
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
			t.Fatalf("CONNACK % x, %v", ack, err)
		}
		// mochi sends CONNACK before it calls OnSessionEstablished, and
		// signals nothing after it: poll with a deadline.
		deadline := time.Now().Add(wait)
		for m.churn.Load() < uint64(2*i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("after connect %d: churn %d, want >= %d", i+1, m.churn.Load(), 2*i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
		_, _ = conn.Write(mqttwire.Disconnect)
		conn.Close()
		// mochi runs OnDisconnect after the socket closed, on its own
		// goroutine, with no event to wait for: poll with a deadline.
		deadline = time.Now().Add(wait)
		for m.churn.Load() < uint64(2*i+2) {
			if time.Now().After(deadline) {
				t.Fatalf("after disconnect %d: churn %d, want %d", i+1, m.churn.Load(), 2*i+2)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// memTestAllow admits every client of the plain test server above: the
// hook under test decides nothing.
type memTestAllow struct{ mqtt.HookBase }

func (h *memTestAllow) ID() string { return "mem-test-allow" }
func (h *memTestAllow) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (h *memTestAllow) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *memTestAllow) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }
