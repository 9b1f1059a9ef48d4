package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
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

// On etcd the brokers are other hosts: a broker's registry follows the
// feed and confirms each barrier through its lease-held key; the writer's
// AwaitEnforced returns once it did, names a broker that does not confirm
// when the wait ends, and stops waiting for one that left (its key goes
// with its lease at once).
func TestAwaitEnforcedEtcd(t *testing.T) {
	c := etcdtest.Start(t, 1)
	writer := openEtcdDB(t, c, "/enforce", EtcdOptions{})
	broker := openEtcdDB(t, c, "/enforce", EtcdOptions{})
	mustDevice(t, writer, "dev-1")

	feed := broker.Watch(t.Context())
	f := broker.Follow("host-a/1")
	defer f.Leave()
	go func() {
		for ch := range feed {
			if ch.Kind == ChangeBarrier {
				f.Confirm(ch.Revision)
			}
		}
	}()
	if _, err := writer.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "stolen", operator); err != nil {
		t.Fatal(err)
	}
	e, err := writer.AwaitEnforced(t.Context()) // no deadline: it must end by itself
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Brokers, []string{"host-a/1"}) || !e.InForce() {
		t.Errorf("one broker confirming: %+v", e)
	}

	silent := broker.Follow("host-b/2")
	eventually(t, 10*time.Second, "host-b named as not confirming", func() bool { // its key is written by its own goroutine
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		e, err := writer.AwaitEnforced(ctx)
		return err == nil && slices.Equal(e.Missing, []string{"host-b/2"})
	})
	silent.Leave()
	e, err = writer.AwaitEnforced(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Brokers, []string{"host-a/1"}) || !e.InForce() {
		t.Errorf("after host-b left: %+v", e)
	}
}
