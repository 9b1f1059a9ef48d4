package agent

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// firstBroker makes the agent start on the first broker of its list:
// every draw of its random source is 0 (and every backoff BackoffMin).
func firstBroker() float64 { return 0 }

// failoverConfig is a software agent of srv with the given brokers, whose
// random draws are all 0 (see firstBroker).
func failoverConfig(t *testing.T, srv *server, id string, ev *events, brokers ...string) Config {
	t.Helper()
	cfg := softwareConfig(t, srv, id, srv.Token("boards"), ev)
	cfg.Broker, cfg.Brokers = "", brokers
	cfg.Rand = firstBroker
	return cfg
}

// sendAndSee publishes one QoS 1 message and waits for the broker's
// acknowledgement and for the observer to receive it.
func sendAndSee(t *testing.T, a *runningAgent, ev *events, obs *observer, suffix, payload string) {
	t.Helper()
	if err := a.Publish(suffix, 1, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	topic := a.topic(suffix)
	if got := await(t, ev.published, "the broker's acknowledgement"); got != topic {
		t.Fatalf("acknowledged %s, want %s", got, topic)
	}
	if m := obs.next(t, topic); string(m.Payload()) != payload {
		t.Fatalf("observer got %q on %s, want %q", m.Payload(), topic, payload)
	}
}

// TestFailoverClosedPort: the first broker of the list is a closed port,
// the second the real server; the agent moves on, connects and publishes.
func TestFailoverClosedPort(t *testing.T) {
	srv := newServer(t)
	obs := srv.observer(t, "devices/fo-1/#")
	ev := newEvents()
	dead := freeAddr(t)
	a := start(t, failoverConfig(t, srv, "fo-1", ev, dead, srv.MQTT))

	await(t, ev.enrolled, "enrollment")
	if n := await(t, ev.attempts, "the first attempt"); n != 1 {
		t.Fatalf("attempt %d, want 1", n)
	}
	if err := await(t, ev.disconnected, "the first attempt's failure"); err == nil {
		t.Fatal("an attempt on a closed port reported no error")
	}
	await(t, ev.connected, "connection to the second broker")
	if got := a.Broker(); got != srv.MQTT {
		t.Errorf("Broker() = %q, want %q", got, srv.MQTT)
	}
	sendAndSee(t, a, ev, obs, "data", "via the second broker")
}

// TestFailoverSilentBroker: the first broker accepts TCP but never says a
// word of TLS; the agent gives up on it after ConnectTimeout and connects
// to the second.
func TestFailoverSilentBroker(t *testing.T) {
	srv := newServer(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held <- c // kept open, never read or written
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})

	ev := newEvents()
	cfg := failoverConfig(t, srv, "fo-2", ev, silent.Addr().String(), srv.MQTT)
	timeout := 3 * time.Second
	cfg.ConnectTimeout = Duration{timeout}
	stamps := stampHooks(&cfg)
	a := start(t, cfg)

	began := nextStamp(t, stamps, true, "the attempt on the silent broker")
	c := await(t, held, "the agent's connection to the silent broker")
	held <- c // for the cleanup
	failed := nextStamp(t, stamps, false, "the silent broker's attempt to time out")
	if failed.err == nil {
		t.Fatal("a timed-out attempt reported no error")
	}
	if d := failed.at.Sub(began.at); d < timeout {
		t.Errorf("gave up on the silent broker after %v, before the %v connect timeout", d, timeout)
	}
	nextStamp(t, stamps, true, "the attempt on the second broker")
	await(t, ev.connected, "connection to the second broker")
	if got := a.Broker(); got != srv.MQTT {
		t.Errorf("Broker() = %q, want %q", got, srv.MQTT)
	}
}

// TestFailoverOnLoss: the agent is on broker A (a proxy in front of the
// server) when A dies; it reconnects through B at once, although its
// backoff is ten minutes, and a QoS 1 message published after the cut
// arrives.
func TestFailoverOnLoss(t *testing.T) {
	srv := newServer(t)
	obs := srv.observer(t, "devices/fo-3/#")
	pa, pb := newProxy(t, srv.MQTT), newProxy(t, srv.MQTT)
	ev := newEvents()
	cfg := failoverConfig(t, srv, "fo-3", ev, pa.addr(), pb.addr())
	cfg.BackoffMin, cfg.BackoffMax = Duration{10 * time.Minute}, Duration{10 * time.Minute}
	log, logs := logbuf.Logger(t, "agent log")
	cfg.Logger = log
	a := start(t, cfg)

	await(t, ev.connected, "connection to A")
	if got := a.Broker(); got != pa.addr() {
		t.Fatalf("on %q, want A (%s)", got, pa.addr())
	}
	sendAndSee(t, a, ev, obs, "data", "before the cut")

	pa.cut()
	if err := await(t, ev.disconnected, "the loss of A"); err == nil {
		t.Fatal("the loss was reported without an error")
	}
	if err := a.Publish("data", 1, []byte("after the cut")); err != nil {
		t.Fatal(err)
	}
	await(t, ev.connected, "reconnection through B")
	if got := a.Broker(); got != pb.addr() {
		t.Errorf("on %q, want B (%s)", got, pb.addr())
	}
	if got := await(t, ev.published, "the acknowledgement of the message sent after the cut"); got != a.topic("data") {
		t.Errorf("acknowledged %s", got)
	}
	if m := obs.next(t, a.topic("data")); string(m.Payload()) != "after the cut" {
		t.Errorf("observer got %q", m.Payload())
	}
	want := "connection lost; reconnecting\" device=fo-3 broker=" + pa.addr()
	if out := logs.String(); !strings.Contains(out, want) || !strings.Contains(out, "next="+pb.addr()) {
		t.Errorf("the move from A to B was not logged")
	}
}

// stamp is one hook call, with its time taken inside the hook.
type stamp struct {
	attempt bool // OnConnectAttempt; else OnDisconnected
	err     error
	at      time.Time
}

// stampHooks makes cfg's OnConnectAttempt and OnDisconnected also report,
// in order, on the returned channel.
func stampHooks(cfg *Config) <-chan stamp {
	stamps := make(chan stamp, 1000)
	hooks := cfg.Hooks
	cfg.Hooks.OnConnectAttempt = func(n int) {
		stamps <- stamp{attempt: true, at: time.Now()}
		hooks.OnConnectAttempt(n)
	}
	cfg.Hooks.OnDisconnected = func(err error) {
		stamps <- stamp{err: err, at: time.Now()}
		hooks.OnDisconnected(err)
	}
	return stamps
}

// nextStamp reads the next stamp and checks its kind.
func nextStamp(t *testing.T, stamps <-chan stamp, attempt bool, what string) stamp {
	t.Helper()
	s := await(t, stamps, what)
	if s.attempt != attempt {
		t.Fatalf("%s: got attempt=%v err=%v", what, s.attempt, s.err)
	}
	return s
}

// TestFailoverBackoff: after the quick move to the next broker, failures
// back off (BackoffMin apart at least) while the agent walks the list in
// turn; and a session that did not last gets no quick move at its loss.
func TestFailoverBackoff(t *testing.T) {
	srv := newServer(t)
	pa, pb := newProxy(t, srv.MQTT), newProxy(t, srv.MQTT)
	ev := newEvents()
	cfg := failoverConfig(t, srv, "fo-4", ev, pa.addr(), pb.addr())
	// Every backoff is exactly BackoffMin (the random source says 0), and
	// no session lasts BackoffMax, so none re-arms the quick move.
	floor := 300 * time.Millisecond
	cfg.BackoffMin, cfg.BackoffMax = Duration{floor}, Duration{time.Hour}
	stamps := stampHooks(&cfg)
	next := func(attempt bool, what string) stamp {
		t.Helper()
		return nextStamp(t, stamps, attempt, what)
	}
	a := start(t, cfg)
	await(t, ev.connected, "connection to A")
	if got := a.Broker(); got != pa.addr() {
		t.Fatalf("on %q, want A", got)
	}
	next(true, "the first attempt")
	pb.refuse(true)
	pa.refuse(true) // drops the session
	lost := next(false, "the loss of A")
	if lost.err == nil {
		t.Fatal("the loss was reported without an error")
	}
	next(true, "the quick attempt on B")
	prev := next(false, "B refusing")
	if n := pb.refusals(); n != 1 {
		t.Fatalf("B refused %d connections after the quick attempt, want 1", n)
	}
	// Then A, B, in turn, BackoffMin apart at least.
	for i, p := range []*tcpProxy{pa, pb} {
		s := next(true, "an attempt after backoff")
		if gap := s.at.Sub(prev.at); gap < floor {
			t.Errorf("attempt %d came %v after the failure before it, below the %v backoff", i+2, gap, floor)
		}
		prev = next(false, "a refusal")
		if n := p.refusals(); n != 1+i {
			t.Errorf("attempt %d: %s refused %d connections, want %d", i+2, p.addr(), n, 1+i)
		}
	}

	// A comes back: the agent connects there (A is next in the list).
	pa.refuse(false)
	await(t, ev.connected, "connection to A once it is back")
	if got := a.Broker(); got != pa.addr() {
		t.Fatalf("on %q, want A", got)
	}
	// The hooks ran before the connection was reported: the stamps of
	// any attempts made while A was still refusing are all there.
	for len(stamps) > 0 {
		<-stamps
	}

	// That session did not last: losing it costs a backoff, even with B up.
	pb.refuse(false)
	pa.refuse(true)
	lost = next(false, "the second loss of A")
	s := next(true, "the attempt after the second loss")
	if gap := s.at.Sub(lost.at); gap < floor {
		t.Errorf("reconnected %v after losing a short session, below the %v backoff", gap, floor)
	}
	await(t, ev.connected, "connection to B")
	if got := a.Broker(); got != pb.addr() {
		t.Errorf("on %q, want B", got)
	}
}

// TestPickBroker: the random source picks the first broker, and attempts
// go through the list in turn from there.
func TestPickBroker(t *testing.T) {
	tests := []struct {
		name    string
		brokers []string
		u       float64
		want    []int // r.next at start, then after each nextBroker
	}{
		{"ok/one", []string{"a:1"}, 0.9, []int{0, 0}},
		{"ok/first", []string{"a:1", "b:1", "c:1"}, 0, []int{0, 1, 2, 0}},
		{"ok/middle", []string{"a:1", "b:1", "c:1"}, 0.5, []int{1, 2, 0, 1}},
		{"ok/last", []string{"a:1", "b:1", "c:1"}, 0.999, []int{2, 0, 1}},
		{"ok/out-of-range-high", []string{"a:1", "b:1"}, 1.5, []int{1, 0}},
		{"ok/out-of-range-low", []string{"a:1", "b:1"}, -1, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Broker, c.Brokers = "", tt.brokers
			if len(tt.brokers) == 1 {
				c.Broker, c.Brokers = tt.brokers[0], nil
			}
			c.Rand = func() float64 { return tt.u }
			r := &runner{cfg: c.withDefaults()}
			r.pickBroker()
			for i, want := range tt.want {
				if i > 0 {
					r.nextBroker()
				}
				if r.next != want {
					t.Fatalf("step %d: next = %d, want %d", i, r.next, want)
				}
			}
		})
	}
}
