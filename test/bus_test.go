package test

import (
	"fmt"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestBusRouting: two brokers on one registry and one nats-server act as
// one MQTT service: a message published on A reaches a subscriber on B
// once, loops back to no one, stops with the subscription, reaches one
// member of a shared group per message, and no one without the grant.
func TestBusRouting(t *testing.T) {
	ns := natstest.Start(t)
	f := startFleetAPI(t)
	a := f.startBroker(t, f.api.DataDir, "--bus", ns.URL)
	b := f.startBroker(t, f.api.DataDir, "--bus", ns.URL)

	open := func(brk *server, id string, grants ...string) *mqttConn {
		t.Helper()
		cert, _, _ := f.device(t, id, grants...)
		c, code, err := f.open(brk, cert, id)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if err != nil || code != 0 {
			t.Fatalf("CONNECT %s: code %d, %v", id, code, err)
		}
		return c
	}
	publish := func(c *mqttConn, topic, payload string) {
		t.Helper()
		if err := c.send(mqttwire.Publish(topic, 0, 0, []byte(payload))); err != nil {
			t.Fatal(err)
		}
	}
	count := func(msgs []publishMsg, payload string) int {
		n := 0
		for _, m := range msgs {
			if m.payload == payload {
				n++
			}
		}
		return n
	}

	dev := open(a, "dev-a")
	backend := open(b, "backend", "--subscribe", "devices/#")
	// Overlapping filters: one bus message, delivered once.
	for i, filter := range []string{"devices/dev-a/#", "devices/dev-a/temp", "devices/+/marker"} {
		if code := backend.subscribe(t, uint16(i+1), filter, 0); code != 0 {
			t.Fatalf("backend subscribe %q: SUBACK %#x", filter, code)
		}
	}
	if code := dev.subscribe(t, 1, "devices/dev-a/#", 0); code != 0 {
		t.Fatalf("device subscribe: SUBACK %#x", code)
	}

	publish(dev, "devices/dev-a/temp", "m1")
	publish(dev, "devices/dev-a/temp", "m1-end")
	got := backend.awaitPayload(t, "m1-end")
	if n := count(got, "m1"); n != 1 {
		t.Fatalf("backend on B got m1 %d times, want once: %+v", n, got)
	}
	own := dev.awaitPayload(t, "m1-end")
	if n := count(own, "m1"); n != 1 {
		t.Fatalf("publisher subscribed on A got m1 %d times, want once: %+v", n, own)
	}

	t.Run("unsubscribe stops delivery", func(t *testing.T) {
		// UNSUBSCRIBE id 9 for devices/dev-a/# and devices/dev-a/temp.
		for _, filter := range []string{"devices/dev-a/#", "devices/dev-a/temp"} {
			pk := append([]byte{0xA2, byte(4 + len(filter)), 0, 9, 0, byte(len(filter))}, filter...)
			if err := backend.send(pk); err != nil {
				t.Fatal(err)
			}
			if _, err := backend.await("UNSUBACK", func(p mqttwire.Packet) bool { return p.Type == 11 }); err != nil {
				t.Fatal(err)
			}
		}
		backend.published = nil
		publish(dev, "devices/dev-a/temp", "after-unsubscribe")
		publish(dev, "devices/dev-a/marker", "marker-1")
		got := backend.awaitPayload(t, "marker-1")
		if n := count(got, "after-unsubscribe"); n != 0 {
			t.Fatalf("unsubscribed backend still got a message: %+v", got)
		}
	})

	t.Run("shared group gets one copy per message", func(t *testing.T) {
		m1 := open(a, "worker-a", "--subscribe", "devices/#")
		m2 := open(b, "worker-b", "--subscribe", "devices/#")
		for _, m := range []*mqttConn{m1, m2} {
			if code := m.subscribe(t, 1, "$share/g/devices/dev-a/job", 0); code != 0 {
				t.Fatalf("shared subscribe: SUBACK %#x", code)
			}
			if code := m.subscribe(t, 2, "devices/dev-a/marker", 0); code != 0 {
				t.Fatalf("marker subscribe: SUBACK %#x", code)
			}
		}
		const n = 20
		for range n {
			publish(dev, "devices/dev-a/job", "job")
		}
		// Jobs and markers travel on different bus subscriptions, so a
		// marker may overtake a job: mark again until all have arrived.
		total := 0
		for round := 0; round < 5 && total < n; round++ {
			marker := fmt.Sprintf("marker-2.%d", round)
			publish(dev, "devices/dev-a/marker", marker)
			for _, m := range []*mqttConn{m1, m2} {
				m.published = nil
				total += count(m.awaitPayload(t, marker), "job")
			}
		}
		if total != n {
			t.Fatalf("group got %d copies of %d jobs, want one each", total, n)
		}
	})

	t.Run("no grant, nothing", func(t *testing.T) {
		nogrant := open(b, "nogrant")
		if code := nogrant.subscribe(t, 1, "devices/dev-a/#", 0); code != 0x80 {
			t.Fatalf("subscribe without grant: SUBACK %#x, want 0x80", code)
		}
		if code := nogrant.subscribe(t, 2, "devices/nogrant/#", 0); code != 0 {
			t.Fatalf("own subscribe: SUBACK %#x", code)
		}
		publish(dev, "devices/dev-a/temp", "secret")
		publish(nogrant, "devices/nogrant/x", "own")
		if got := nogrant.awaitPayload(t, "own"); count(got, "secret") != 0 {
			t.Fatalf("device without the grant got %+v", got)
		}
	})

	t.Run("lifecycle events to a shared pool", func(t *testing.T) { testBusEvents(t, f, []*server{a, b}) })
}
