package broker

import (
	"testing"
	"time"
)

// TestLastSeen: a device never connected is not seen; a connected one is
// seen now; after it disconnects its last-seen time stays at the end of
// its session.
func TestLastSeen(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("seen-a", nil)
	if _, ok := f.b.LastSeen("seen-a"); ok {
		t.Fatal("a device that never connected is seen")
	}
	before := time.Now()
	c := f.mustConnect(&cert, "seen-a")
	if at, ok := f.b.LastSeen("seen-a"); !ok || at.Before(before) {
		t.Fatalf("connected device: LastSeen = %v, %v", at, ok)
	}
	c.Disconnect(0)
	deadline := time.Now().Add(10 * time.Second)
	for f.b.Connected("seen-a") {
		if time.Now().After(deadline) {
			t.Fatal("still connected 10s after DISCONNECT")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	ended := time.Now()
	at, ok := f.b.LastSeen("seen-a")
	if !ok || at.Before(before) || at.After(ended) {
		t.Fatalf("after disconnect: LastSeen = %v, %v; want between %v and %v", at, ok, before, ended)
	}
}
