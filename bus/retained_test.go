package bus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// watchState runs Watch on r until the test ends and returns a function
// that waits until the retained messages it saw equal want.
func watchState(t *testing.T, r *Retained) func(want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	state := map[string]string{}
	loaded := make(chan struct{})
	go r.Watch(ctx, func(u RetainedUpdate) {
		mu.Lock()
		defer mu.Unlock()
		if len(u.Payload) == 0 {
			delete(state, u.Topic)
		} else {
			state[u.Topic] = string(u.Payload)
		}
	}, func() { close(loaded) })
	select {
	case <-loaded:
	case <-time.After(10 * time.Second):
		t.Fatal("retained watch never loaded")
	}
	return func(want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			same := len(state) == len(want)
			for k, v := range want {
				same = same && state[k] == v
			}
			got := map[string]string{}
			for k, v := range state {
				got[k] = v
			}
			mu.Unlock()
			if same {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("retained messages %v, want %v", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestRetained: two brokers' connections share one bucket; the last
// change per topic wins, an empty payload clears, a watcher started later
// loads what is there, and bad input or a dead connection is refused at
// once.
func TestRetained(t *testing.T) {
	ns := natstest.Start(t)
	dial := func(origin string) *Retained {
		c, err := Dial(Options{URLs: ns.URL, Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return NewRetained(c)
	}
	a, b := dial("a"), dial("b")
	ctx := context.Background()
	seenA := watchState(t, a)
	must := func(r *Retained, topic, payload string) {
		t.Helper()
		if err := r.Set(ctx, topic, 1, []byte(payload)); err != nil {
			t.Fatalf("set %q: %v", topic, err)
		}
	}
	must(a, "devices/d1/state", "on")
	must(b, "devices/d1/state", "off") // replaced from another broker
	must(a, "a//b.c/$x", "odd")        // levels that need escaping
	must(b, "devices/d2/state", "x")
	must(a, "devices/d2/state", "") // cleared
	want := map[string]string{"devices/d1/state": "off", "a//b.c/$x": "odd"}
	seenA(want)
	watchState(t, dial("late"))(want)

	for _, bad := range []struct {
		topic string
		qos   byte
	}{{"devices/+/x", 0}, {"", 0}, {"devices/d1/x", 3}} {
		if err := a.Set(ctx, bad.topic, bad.qos, []byte("p")); !errors.Is(err, ErrRetained) {
			t.Errorf("Set(%q, QoS %d) = %v, want ErrRetained", bad.topic, bad.qos, err)
		}
	}

	ns.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for a.c.Connected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// ErrDisconnected comes from the check before any request: a Set
	// that waited for NATS would end in the context's deadline instead.
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := a.Set(wait, "devices/d1/state", 0, []byte("lost")); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Set with NATS down = %v, want ErrDisconnected", err)
	}
}
