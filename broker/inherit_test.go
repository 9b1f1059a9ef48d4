package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/store"
)

// shrinkingRegistry is the real registry with one addition the store does
// not offer (yet): the subscribe grants of one device can be replaced, as
// an operator editing grants would.
type shrinkingRegistry struct {
	*store.DB
	mu        sync.Mutex
	overrides map[string][]string
}

func (r *shrinkingRegistry) setSubscribe(id string, grants []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overrides[id] = grants
}

func (r *shrinkingRegistry) Lookup(ctx context.Context, id, serial string) (store.Device, store.Certificate, error) {
	d, c, err := r.DB.Lookup(ctx, id, serial)
	r.mu.Lock()
	defer r.mu.Unlock()
	if g, ok := r.overrides[id]; ok && err == nil {
		d.Subscribe = g
	}
	return d, c, err
}

// TestInheritedSessionFollowsCurrentGrants: messages queued for an offline
// persistent session are delivered on reconnect while the grants allow
// them, and dropped (with the subscription) once the grants no longer do.
func TestInheritedSessionFollowsCurrentGrants(t *testing.T) {
	f := newFixture(t, nil)
	reg := &shrinkingRegistry{DB: f.db, overrides: map[string][]string{}}
	f.serveOn(reg)

	certA := f.device("persist-a", func(d *store.Device) { d.Subscribe = []string{"fleet/#"} })
	certB := f.device("persist-b", func(d *store.Device) { d.Publish = []string{"fleet/#", "devices/persist-a/inbox"} })
	persistent := func(o *paho.ClientOptions) { o.SetCleanSession(false) }
	connectA := func() *client {
		c, tok := f.connect(&certA, "persist-a", persistent)
		if err := tok.Error(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	pub := f.mustConnect(&certB, "persist-b")

	a := connectA()
	for _, filter := range []string{"fleet/cmd", "devices/persist-a/inbox"} {
		if code := f.subscribe(a, filter); code != 1 {
			t.Fatalf("subscribe %q: SUBACK %#x", filter, code)
		}
	}
	// QoS 0, so that an echo never waits in a session for an ack.
	if code := f.subscribeQoS(a, "devices/persist-a/echo", 0); code != 0 {
		t.Fatalf("subscribe echo: SUBACK %#x", code)
	}
	a.Disconnect(0)
	f.logs.await(t, "client disconnected", "client=persist-a")

	// echo publishes to a's own topic and waits for it to come back. mochi
	// resends queued messages right after CONNACK and reads nothing from
	// the client before that, so anything resent precedes the echo. (The
	// subscriptions persist, so nothing is subscribed again here: mochi
	// shares one packet ID space between both directions, and a SUBSCRIBE
	// could collide with a resent message's ID.)
	echo := func(c *client, payload string) {
		f.publish(c, "devices/persist-a/echo", payload, false)
		f.receive(c, "devices/persist-a/echo", payload)
	}

	// Control: with the grant in place the queued message is resent.
	f.publish(pub, "fleet/cmd", "one", false)
	a = connectA()
	f.receive(a, "fleet/cmd", "one")
	echo(a, "after one")
	a.Disconnect(0)
	f.logs.await(t, "client disconnected", "client=persist-a")

	// The grant goes; a message is queued under the old one. mochi answers
	// the publisher before it queues the message for subscribers, so wait
	// until the offline session holds it.
	f.publish(pub, "fleet/cmd", "two", false)
	awaitQueued(t, f.b, "persist-a")
	reg.setSubscribe("persist-a", nil)
	a = connectA()
	echo(a, "after two")
	select {
	case m := <-a.messages:
		t.Fatalf("unexpected message %q %q", m.Topic(), m.Payload())
	default:
	}
	// And the inherited subscription to fleet/cmd is gone, from the client
	// and from the topic index (delivery would be refused anyway).
	cl, ok := f.b.server.Clients.Get("persist-a")
	if !ok {
		t.Fatal("persist-a not in mochi's clients")
	}
	if _, ok := cl.State.Subscriptions.Get("fleet/cmd"); ok {
		t.Fatal("inherited subscription fleet/cmd survived the grant's removal")
	}
	if _, ok := cl.State.Subscriptions.Get("devices/persist-a/inbox"); !ok {
		t.Fatal("inherited subscription devices/persist-a/inbox was dropped")
	}
	if subs := f.b.server.Topics.Subscribers("fleet/cmd"); len(subs.Subscriptions) != 0 {
		t.Fatalf("topic index still routes fleet/cmd to %v", subs.Subscriptions)
	}
	f.publish(pub, "fleet/cmd", "three", false)
	f.publish(pub, "devices/persist-a/inbox", "sentinel", false)
	f.expectOnly(a, "devices/persist-a/inbox", "sentinel")
}

// awaitQueued waits until mochi has queued a message for the offline
// client id.
func awaitQueued(t *testing.T, b *Broker, id string) {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(time.Millisecond) {
		if cl, ok := b.server.Clients.Get(id); ok && cl.State.Inflight.Len() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message queued for %s within %s", id, wait)
		}
	}
}
