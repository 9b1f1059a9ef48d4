package broker

import (
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestSweeperStopsMochiLoops: on the mochi version in go.mod the sweeper
// finds the tickers of mochi's per-client loops, and once stopped they
// stay silent. A mochi upgrade that moves them fails here, not in
// production (where the broker would log a warning and keep mochi's
// loops).
func TestSweeperStopsMochiLoops(t *testing.T) {
	server := mqtt.New(&mqtt.Options{InlineClient: false})
	t.Cleanup(func() { _ = server.Close() })
	if err := stopMochiSweeps(server); err != nil {
		t.Fatal(err)
	}
	loop := reflect.ValueOf(server).Elem().FieldByName("loop").Elem()
	for _, name := range mochiSweeps {
		tk := (*time.Ticker)(loop.FieldByName(name).UnsafePointer())
		// The tickers run at one second: a stopped one sends nothing in 1.5 s.
		select {
		case <-tk.C:
			t.Errorf("%s ticked after it was stopped", name)
		case <-time.After(1500 * time.Millisecond):
		}
	}
}

// sweepFixture is a mochi server that is not serving, with clients made
// on net.Pipe connections, and a sweeper over a session index.
type sweepFixture struct {
	server  *mqtt.Server
	ss      *sessions
	w       *sweeper
	expired atomic.Int32
}

func newSweepFixture(t *testing.T) *sweepFixture {
	t.Helper()
	f := &sweepFixture{server: mqtt.New(&mqtt.Options{InlineClient: false}), ss: newSessions()}
	t.Cleanup(func() { _ = f.server.Close() })
	f.w = newSweeper(f.server, f.ss, func(cl *mqtt.Client) { f.expired.Add(1); f.ss.removeClient(cl) }, slog.New(slog.DiscardHandler))
	return f
}

// client adds a mochi client with a session, as a CONNECT would.
func (f *sweepFixture) client(t *testing.T, id string) *mqtt.Client {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	cl := f.server.NewClient(a, "t", id, false)
	f.server.Clients.Add(cl)
	f.ss.add(&session{cl: cl, deviceID: id})
	return cl
}

// TestSweeperExpiresSession: a disconnected MQTT 5 session with a session
// expiry interval is expired by its timer (session and mochi client
// gone); one whose client ID reconnected is not; and an MQTT 3.1.1
// session, which never expires under mochi's defaults, arms no timer.
func TestSweeperExpiresSession(t *testing.T) {
	f := newSweepFixture(t)
	v5 := func(cl *mqtt.Client) {
		cl.Properties.ProtocolVersion = 5
		cl.Properties.Props.SessionExpiryIntervalFlag = true
		cl.Properties.Props.SessionExpiryInterval = 1
	}
	gone := f.client(t, "dev-expires")
	v5(gone)
	gone.Stop(nil)
	f.w.OnDisconnect(gone, nil, false)

	back := f.client(t, "dev-back")
	v5(back)
	back.Stop(nil)
	f.w.OnDisconnect(back, nil, false)
	again := f.client(t, "dev-back") // replaces it in mochi's map
	f.w.OnSessionEstablished(again, packets.Packet{})

	old := f.client(t, "dev-311")
	old.Properties.ProtocolVersion = 4
	old.Stop(nil)
	f.w.OnDisconnect(old, nil, false)

	f.w.mu.Lock()
	armed := len(f.w.timers)
	f.w.mu.Unlock()
	if armed != 1 {
		t.Fatalf("%d expiry timers armed, want 1 (dev-expires alone)", armed)
	}
	// The timer fires after the interval plus a second: poll.
	deadline := time.Now().Add(wait)
	for f.expired.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := f.server.Clients.Get("dev-expires"); ok || f.ss.get(gone) != nil {
		t.Error("expired session still known to mochi or to the broker")
	}
	if cl, ok := f.server.Clients.Get("dev-back"); !ok || cl != again {
		t.Error("the reconnected client was expired")
	}
	if _, ok := f.server.Clients.Get("dev-311"); !ok || f.expired.Load() != 1 {
		t.Errorf("MQTT 3.1.1 session gone or extra expiries (%d)", f.expired.Load())
	}
}

// TestSweeperInflight: an inflight message past mochi's maximum message
// expiry is dropped, a fresh one stays, and the pass over idle sessions
// allocates nothing.
func TestSweeperInflight(t *testing.T) {
	f := newSweepFixture(t)
	now := time.Now().Unix()
	busy := f.client(t, "dev-busy")
	maxAge := f.server.Options.Capabilities.MaximumMessageExpiryInterval
	busy.State.Inflight.Set(packets.Packet{PacketID: 1, Created: now - maxAge - 10, FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}})
	busy.State.Inflight.Set(packets.Packet{PacketID: 2, Created: now, FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}})
	for i := range 1000 {
		f.client(t, fmt.Sprintf("dev-idle-%d", i))
	}
	f.w.sweepInflight(now)
	if _, ok := busy.State.Inflight.Get(1); ok {
		t.Error("expired inflight message kept")
	}
	if _, ok := busy.State.Inflight.Get(2); !ok {
		t.Error("fresh inflight message dropped")
	}
	busy.State.Inflight.Delete(2)
	if n := testing.AllocsPerRun(20, func() { f.w.sweepInflight(now) }); n != 0 {
		t.Errorf("a pass over 1,001 idle sessions allocates %.0f times, want 0", n)
	}
}

// TestSweeperRetained: a retained MQTT 5 message is dropped once past its
// expiry; a topic whose message was replaced keeps the timer of the new
// one, and a cleared topic keeps none.
func TestSweeperRetained(t *testing.T) {
	f := newSweepFixture(t)
	now := time.Now().Unix()
	retain := func(topic string, v5Expiry int64) packets.Packet {
		pk := packets.Packet{TopicName: topic, Payload: []byte("on"), Created: now, ProtocolVersion: 5, Expiry: v5Expiry,
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}}
		f.w.OnRetainMessage(nil, pk, f.server.Topics.RetainMessage(pk))
		return pk
	}
	retain("devices/a/status", now+1)
	retain("devices/b/status", now+1)
	newer := retain("devices/b/status", 0) // replaced: only the day-long maximum applies
	retain("devices/c/status", now+1)
	f.w.OnRetainMessage(nil, packets.Packet{TopicName: "devices/c/status"}, -1) // cleared

	f.w.mu.Lock()
	b, c := f.w.retained["devices/b/status"], f.w.retained["devices/c/status"]
	f.w.mu.Unlock()
	if b == nil || b.created != newer.Created || c != nil {
		t.Fatalf("timers: b %+v, c %+v; want b's for the newer message and none for c", b, c)
	}
	deadline := time.Now().Add(wait)
	for {
		if _, ok := f.server.Topics.Retained.Get("devices/a/status"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired retained message is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := f.server.Topics.Retained.Get("devices/b/status"); !ok {
		t.Error("the replacing message was expired with the one it replaced")
	}
}
