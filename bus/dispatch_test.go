package bus_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestSubscribeOneGoroutine: a broker holds one bus subscription per
// device command topic, so a subscription must not cost a goroutine.
// Many subscriptions on one Conn add none, each message reaches the
// handler of its own filter only (interest stays per subject), one
// publisher's messages arrive in order, and after unsubscribing a handler
// gets nothing more.
func TestSubscribeOneGoroutine(t *testing.T) {
	const subs = 300
	ns := natstest.Start(t)
	a, b := dialTest(t, ns.URL, "a"), dialTest(t, ns.URL, "b")

	var mu sync.Mutex
	got := make([][]string, subs)
	arrived := make(chan struct{}, 4*subs)
	before := runtime.NumGoroutine()
	stops := make([]func() error, subs)
	for i := range subs {
		stop, err := b.Subscribe(fmt.Sprintf("devices/d%03d/cmd", i), func(d bus.Delivery) {
			mu.Lock()
			got[i] = append(got[i], d.Topic+" "+string(d.Payload))
			mu.Unlock()
			arrived <- struct{}{}
		})
		if err != nil {
			t.Fatal(err)
		}
		stops[i] = stop
	}
	if added := runtime.NumGoroutine() - before; added > 5 {
		t.Fatalf("ok/subscriptions: %d subscriptions added %d goroutines, want at most 5", subs, added)
	}

	for i := range subs {
		for k := range 2 {
			if err := a.Publish(fmt.Sprintf("devices/d%03d/cmd", i), fmt.Appendf(nil, "m%d", k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	awaitN(t, arrived, 2*subs)
	for i := range subs {
		topic := fmt.Sprintf("devices/d%03d/cmd", i)
		if want := []string{topic + " m0", topic + " m1"}; fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Fatalf("ok/delivery: handler %d got %q, want %q", i, got[i], want)
		}
	}

	// Unsubscribe half; the others still get theirs, the half nothing.
	for i := 0; i < subs; i += 2 {
		if err := stops[i](); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range subs {
		if err := a.Publish(fmt.Sprintf("devices/d%03d/cmd", i), []byte("m2")); err != nil {
			t.Fatal(err)
		}
	}
	// One publisher, one dispatch goroutine: a copy for an unsubscribed
	// filter would arrive before the last subscribed one's.
	awaitN(t, arrived, subs/2)
	mu.Lock()
	defer mu.Unlock()
	for i := range subs {
		want := 3 - (i+1)%2 // even i: unsubscribed, 2 messages
		if len(got[i]) != want {
			t.Errorf("error/unsubscribed: handler %d got %d messages %q, want %d", i, len(got[i]), got[i], want)
		}
	}
}

// awaitN waits for n signals on ch, for at most ten seconds.
func awaitN(t *testing.T, ch <-chan struct{}, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for k := range n {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d of %d messages arrived in 10 s", k, n)
		}
	}
}
