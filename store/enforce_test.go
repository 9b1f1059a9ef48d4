package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// On bbolt the brokers of the process follow the feed in memory: the
// barrier reaches a follower after the revocation before it, and
// AwaitEnforced returns once every follower confirmed it; a follower that
// does not confirm is named when the wait ends, and one that left is not
// waited for.
func TestAwaitEnforcedLocal(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	feed := db.Watch(t.Context())
	f := db.Follow("broker-a")
	defer f.Leave()
	lazy := db.Follow("broker-b")

	if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "stolen", operator); err != nil {
		t.Fatal(err)
	}
	// broker-a applies its feed in order and confirms each barrier.
	applied := make(chan []ChangeKind, 1)
	go func() {
		var kinds []ChangeKind
		for ch := range feed {
			kinds = append(kinds, ch.Kind)
			if ch.Kind == ChangeBarrier {
				f.Confirm(ch.Revision)
				applied <- kinds
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	e, err := db.AwaitEnforced(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Brokers, []string{"broker-a", "broker-b"}) || !slices.Equal(e.Missing, []string{"broker-b"}) || e.InForce() {
		t.Errorf("with broker-b silent: %+v", e)
	}
	if kinds := <-applied; !slices.Equal(kinds, []ChangeKind{ChangeDevice, ChangeBarrier}) {
		t.Errorf("broker-a saw %v, want the revocation before the barrier", kinds)
	}

	lazy.Leave()
	feed2 := db.Watch(t.Context())
	go func() {
		for ch := range feed2 {
			if ch.Kind == ChangeBarrier {
				f.Confirm(ch.Revision)
			}
		}
	}()
	e, err = db.AwaitEnforced(t.Context()) // no deadline: it must end by itself
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Brokers, []string{"broker-a"}) || !e.InForce() {
		t.Errorf("after broker-b left: %+v", e)
	}
}
