package broker

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestCursorCheckpoints: a held session's cursor moves one checkpoint
// behind the sequence delivered here, never while something is in flight,
// and its record stops being written once another broker claimed it.
func TestCursorCheckpoints(t *testing.T) {
	ns := natstest.Start(t)
	conn, err := bus.Dial(bus.Options{URLs: ns.URL, Origin: "here"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server := mqtt.New(nil)
	allow := func(*mqtt.Client, string, bool) bool { return true }
	r := newRouter(server, conn, allow, nil, slog.New(slog.DiscardHandler), NewMetrics(nil))
	if !r.enableDurable(context.Background(), "here", allow) {
		t.Fatal("a bus.Conn offers durable delivery")
	}
	cl := server.NewClient(nil, "local", "dev-1", false)
	cl.State.Subscriptions.Add("devices/dev-1/#", packets.Subscription{Filter: "devices/dev-1/#", Qos: 1})
	h := &held{cl: cl, dirty: true}
	r.held[cl.ID] = h
	ctx := context.Background()
	cursor := func() uint64 {
		t.Helper()
		rec, _, err := conn.LoadSession(ctx, "dev-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Subs) != 1 || rec.Subs[0].Filter != "devices/dev-1/#" || rec.Owner != "here" {
			t.Fatalf("record %+v, want the subscription and owner here", rec)
		}
		return rec.Cursor
	}

	deliver := func(seq uint64) { // a QoS 1 message with stream sequence seq sent to dev-1
		r.raiseSeq(seq)
		r.OnQosPublish(cl, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 1}, 0, 0)
	}
	deliver(5)
	r.checkpoint(ctx, true)
	if c := cursor(); c != 0 {
		t.Fatalf("first checkpoint: cursor %d, want 0 (one checkpoint behind)", c)
	}
	cl.State.Inflight.Set(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 1})
	deliver(9)
	r.checkpoint(ctx, true)
	if c := cursor(); c != 0 {
		t.Fatalf("with a message in flight: cursor %d, want 0", c)
	}
	cl.State.Inflight.Delete(1)
	r.checkpoint(ctx, true)
	if c := cursor(); c != 9 {
		t.Fatalf("nothing in flight: cursor %d, want 9 (delivered up to at the previous checkpoint)", c)
	}

	// Messages delivered to other sessions here raise the broker's
	// sequence; a session that received none keeps its record as it is.
	_, revIdle, err := conn.LoadSession(ctx, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(12); seq <= 20; seq += 4 {
		r.raiseSeq(seq)
		r.checkpoint(ctx, true)
	}
	if _, rev, err := conn.LoadSession(ctx, "dev-1"); err != nil || rev != revIdle || cursor() != 9 {
		t.Fatalf("idle session: record revision %d (was %d), cursor %d, %v; want it not written again", rev, revIdle, cursor(), err)
	}
	// One delivery: one write, two checkpoints on, past the message.
	deliver(23)
	r.checkpoint(ctx, true)
	if _, rev, err := conn.LoadSession(ctx, "dev-1"); err != nil || rev != revIdle {
		t.Fatalf("checkpoint right after a delivery: revision %d (was %d), %v; want no write yet", rev, revIdle, err)
	}
	r.checkpoint(ctx, true)
	_, revMoved, err := conn.LoadSession(ctx, "dev-1")
	if c := cursor(); err != nil || c != 23 || revMoved != revIdle+1 {
		t.Fatalf("second checkpoint after a delivery: cursor %d, revision %d (was %d), %v; want 23 in one write", c, revMoved, revIdle, err)
	}
	// Idle for half the bus's retention: written again, so the record
	// does not expire under a device that is still connected.
	r.recordTTL = time.Hour
	h.mu.Lock()
	h.written = time.Now().Add(-31 * time.Minute)
	h.mu.Unlock()
	r.checkpoint(ctx, true)
	if _, rev, err := conn.LoadSession(ctx, "dev-1"); err != nil || rev == revMoved {
		t.Fatalf("after half the retention: revision %d (was %d), %v; want the record written again", rev, revMoved, err)
	}

	// Another broker claims the record; this one's next write fails and
	// it lets go.
	rec, rev, err := conn.LoadSession(ctx, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	rec.Owner = "there"
	if _, err := conn.SaveSession(ctx, "dev-1", rec, rev); err != nil {
		t.Fatal(err)
	}
	r.subsChanged(cl)
	r.checkpoint(ctx, false)
	if !h.isGone() || r.heldOf(cl) != nil {
		t.Fatal("the session is still held after another broker claimed it")
	}
	if got, _, err := conn.LoadSession(ctx, "dev-1"); err != nil || got.Owner != "there" {
		t.Fatalf("record after the claim: %+v, %v; want owner there", got, err)
	}
	if _, _, err := conn.LoadSession(ctx, "nobody"); !errors.Is(err, bus.ErrNoSession) {
		t.Fatalf("unknown client: %v, want ErrNoSession", err)
	}
}
