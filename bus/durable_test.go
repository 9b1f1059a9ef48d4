package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

func dialTest(t *testing.T, url, origin string) *bus.Conn {
	t.Helper()
	c, err := bus.Dial(bus.Options{URLs: url, Origin: origin, PublishTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestDurableReplay: durable messages carry their stream sequence live,
// and a replay from a cursor returns exactly the later ones matching the
// filters, in stream order, with the parent level of "#" included.
func TestDurableReplay(t *testing.T) {
	ns := natstest.Start(t)
	a, b := dialTest(t, ns.URL, "a"), dialTest(t, ns.URL, "b")
	live := make(chan bus.Delivery, 16)
	stop, err := b.Subscribe("d/x/#", func(d bus.Delivery) { live <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	var seqs []uint64
	for i, topic := range []string{"d/x", "d/y/1", "d/x/1", "d/x/2/3", "d/z"} {
		seq, err := a.PublishDurable(topic, []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
		seqs = append(seqs, seq)
	}
	first := <-live
	if first.Topic != "d/x" || first.Seq != seqs[0] || first.QoS != 1 {
		t.Fatalf("live delivery %+v, want d/x with seq %d at QoS 1", first, seqs[0])
	}

	var got []string
	last, err := b.Replay(context.Background(), []string{"d/x/#", "d/z", "$share/g/d/y/#"}, seqs[0], 100,
		func(d bus.Delivery) { got = append(got, fmt.Sprintf("%s@%d", d.Topic, d.Seq)) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("d/x/1@%d", seqs[2]), fmt.Sprintf("d/x/2/3@%d", seqs[3]), fmt.Sprintf("d/z@%d", seqs[4])}
	if fmt.Sprint(got) != fmt.Sprint(want) || last != seqs[4] {
		t.Fatalf("replay after %d: %v up to %d, want %v up to %d", seqs[0], got, last, want, seqs[4])
	}

	got = nil
	_, err = b.Replay(context.Background(), []string{"d/#"}, 0, 2, func(d bus.Delivery) { got = append(got, d.Topic) })
	if !errors.Is(err, bus.ErrReplayTruncated) || len(got) != 2 || got[0] != "d/x" {
		t.Fatalf("replay with limit 2: %v, %v; want the first two and ErrReplayTruncated", got, err)
	}
}

// TestSessionRecord: a record is created once, updated only from the
// revision read, and gone after delete.
func TestSessionRecord(t *testing.T) {
	ns := natstest.Start(t)
	x, y := dialTest(t, ns.URL, "x"), dialTest(t, ns.URL, "y")
	ctx := context.Background()
	const id = "dev/1 odd"
	if _, _, err := x.LoadSession(ctx, id); !errors.Is(err, bus.ErrNoSession) {
		t.Fatalf("load before save: %v, want ErrNoSession", err)
	}
	rec := bus.SessionRecord{Subs: []bus.SessionSub{{Filter: "devices/1/#", QoS: 1}}, Cursor: 7, Owner: "x"}
	rev, err := x.SaveSession(ctx, id, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.SaveSession(ctx, id, rec, 0); !errors.Is(err, bus.ErrSessionMoved) {
		t.Fatalf("second create: %v, want ErrSessionMoved", err)
	}
	// y takes the session over from the revision it read; x's next write
	// from its older revision is refused.
	got, yrev, err := y.LoadSession(ctx, id)
	if err != nil || got.Cursor != 7 || len(got.Subs) != 1 || got.Subs[0] != rec.Subs[0] || yrev != rev {
		t.Fatalf("load: %+v rev %d, %v; want %+v rev %d", got, yrev, err, rec, rev)
	}
	got.Owner = "y"
	if _, err := y.SaveSession(ctx, id, got, yrev); err != nil {
		t.Fatal(err)
	}
	rec.Cursor = 9
	if _, err := x.SaveSession(ctx, id, rec, rev); !errors.Is(err, bus.ErrSessionMoved) {
		t.Fatalf("stale update: %v, want ErrSessionMoved", err)
	}
	if err := y.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := x.LoadSession(ctx, id); !errors.Is(err, bus.ErrNoSession) {
		t.Fatalf("load after delete: %v, want ErrNoSession", err)
	}
	if _, err := x.SaveSession(ctx, id, rec, 0); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

// TestDeleteSessionWithoutRecord: deleting a record that is not there (a
// revoked device with a clean session, or a record another broker deleted
// first) stores nothing in the bucket's stream.
func TestDeleteSessionWithoutRecord(t *testing.T) {
	ns := natstest.Start(t)
	x := dialTest(t, ns.URL, "x")
	ctx := context.Background()
	if _, err := x.SaveSession(ctx, "present", bus.SessionRecord{Owner: "x"}, 0); err != nil {
		t.Fatal(err)
	}
	js := natstest.JetStream(t, ns.URL)
	lastSeq := func() uint64 {
		st, err := js.Stream(ctx, "KV_"+bus.SessionBucket)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.LastSeq
	}
	before := lastSeq()
	for _, id := range []string{"never-had-one", "also/absent"} {
		if err := x.DeleteSession(ctx, id); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	if got := lastSeq(); got != before {
		t.Fatalf("deleting absent records stored %d messages in the bucket", got-before)
	}
	if err := x.DeleteSession(ctx, "present"); err != nil {
		t.Fatal(err)
	}
	if got := lastSeq(); got != before+1 {
		t.Fatalf("deleting a record stored %d messages, want its purge", got-before)
	}
	if err := x.DeleteSession(ctx, "present"); err != nil {
		t.Fatal(err)
	}
	if got := lastSeq(); got != before+1 {
		t.Fatalf("deleting it again stored %d more", got-before-1)
	}
	if _, _, err := x.LoadSession(ctx, "present"); !errors.Is(err, bus.ErrNoSession) {
		t.Fatalf("load after delete: %v, want ErrNoSession", err)
	}
}

// TestDurableRefusedWithoutBus: with no NATS server reachable a durable
// publish fails within its timeout, as ErrStore.
func TestDurableRefusedWithoutBus(t *testing.T) {
	ns := natstest.Start(t)
	c := dialTest(t, ns.URL, "a")
	ns.Kill()
	start := time.Now()
	_, err := c.PublishDurable("d/x", []byte("m"))
	if !errors.Is(err, bus.ErrStore) {
		t.Fatalf("publish without a server: %v, want ErrStore", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("publish without a server took %v; the timeout is 2 s", d)
	}
}
