package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// TestEventsACL: only an identity granted the events tree can subscribe
// to it; a catch-all grant receives no event; no client can publish an
// event, not even one granted publish on everything and the events tree.
func TestEventsACL(t *testing.T) {
	f := newFixture(t, nil)
	be := f.backend("backend-1", EventsRoot+"#")
	nosyCert := f.device("nosy", nil)
	nosy := f.mustConnect(&nosyCert, "nosy")
	greedyCert := f.device("greedy", func(d *store.Device) {
		d.Subscribe = []string{"#"}
		d.Publish = []string{"#", EventsRoot + "#"}
	})
	greedy := f.mustConnect(&greedyCert, "greedy")

	for _, c := range []struct {
		name   string
		who    *client
		filter string
	}{
		{"nosy", nosy, EventsRoot + "#"},
		{"nosy", nosy, EventsRoot + "connected/nosy"},
		{"nosy", nosy, "$share/pool/" + EventsRoot + "#"},
		{"nosy", nosy, "$fleet/#"},
		{"greedy", greedy, EventsRoot + "#"},
		{"greedy", greedy, "$share/pool/" + EventsRoot + "#"},
	} {
		t.Run(fmt.Sprintf("error/%s subscribes %s", c.name, c.filter), func(t *testing.T) {
			if code := f.sub(t).subscribe(c.who, c.filter); code != 0x80 {
				t.Fatalf("SUBACK %#x, want 0x80", code)
			}
		})
	}
	if code := f.subscribe(greedy, "#"); code != 1 {
		t.Fatalf("catch-all grant: SUBACK %#x, want 1", code)
	}

	// Spoofing: QoS 0 publishes are dropped silently (QoS 1 ones end the
	// connection, see TestPublishOutsideACL); the backend must see none.
	for _, topic := range []string{EventsRoot + "connected/probe", EventsRoot + "refused/_unknown", "$fleet/events"} {
		tok := greedy.Publish(topic, 0, false, `{"type":"connected","device":"probe"}`)
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	f.publish(greedy, "devices/greedy/sentinel", "after the spoofs", false)
	// greedy's own sentinel comes back through "#"; a spoof would have
	// reached greedy too, before it.
	f.expectOnly(greedy, "devices/greedy/sentinel", "after the spoofs")

	// A real event now. Everything the backend got up to it must be the
	// broker's own events (a spoof carries no broker name), and the
	// catch-all subscriber must not get it.
	probeCert := f.device("probe", nil)
	f.mustConnect(&probeCert, "probe")
	for got := false; !got; {
		select {
		case m := <-be.messages:
			var e Event
			mustJSON(t, m.Payload(), &e)
			if e.Broker != f.b.hook.owner || m.Topic() != EventsRoot+e.Type+"/"+e.Device {
				t.Fatalf("backend got a spoofed event on %s: %s", m.Topic(), m.Payload())
			}
			got = m.Topic() == EventsRoot+"connected/probe"
		case <-time.After(wait):
			t.Fatal("backend got no event for probe")
		}
	}
	f.publish(greedy, "devices/greedy/sentinel", "after the event", false)
	f.expectOnly(greedy, "devices/greedy/sentinel", "after the event")
	f.roundTrip(nosy, "nosy")
}

// TestEventsSharedPool: a pool of backends sharing $share/<group>/ gets
// each event once between them, while a plain subscriber gets all.
func TestEventsSharedPool(t *testing.T) {
	f := newFixture(t, nil)
	filter := EventsRoot + EventConnected + "/#"
	pool := []*client{f.backend("pool-1", "$share/pool/"+filter), f.backend("pool-2", "$share/pool/"+filter)}
	all := f.backend("audit", filter)

	const n = 12
	for i := range n {
		id := fmt.Sprintf("dev-%02d", i)
		cert := f.device(id, nil)
		f.mustConnect(&cert, id)
	}
	for i := range n {
		f.awaitEvent(all, EventConnected, fmt.Sprintf("dev-%02d", i), eventFields[EventConnected])
	}
	// Each event was fanned out to every subscriber in one step, so once
	// the plain subscriber has all of them, the pool's copies are queued;
	// a round trip on each member flushes its queue.
	seen := map[string]int{}
	perMember := make([]int, len(pool))
	for i, c := range pool {
		id := fmt.Sprintf("pool-%d", i+1)
		topic := "devices/" + id + "/flush"
		if code := f.subscribe(c, topic); code != 1 {
			t.Fatalf("subscribe %s: %#x", topic, code)
		}
		f.publish(c, topic, "flush", false)
		for done := false; !done; {
			select {
			case m := <-c.messages:
				if m.Topic() == topic {
					done = true
					continue
				}
				seen[m.Topic()]++
				if strings.HasPrefix(m.Topic(), EventsRoot+"connected/dev-") {
					perMember[i]++
				}
			case <-time.After(wait):
				t.Fatalf("%s: flush message not received", id)
			}
		}
	}
	// The pool may also have the connected events of backends that came
	// after it subscribed; each, too, once.
	if perMember[0]+perMember[1] != n {
		t.Fatalf("pool got %d device events, want %d: %v", perMember[0]+perMember[1], n, seen)
	}
	for topic, k := range seen {
		if k != 1 {
			t.Fatalf("pool got %s %d times, want once", topic, k)
		}
	}
	t.Logf("events per pool member: %v", perMember)
}
