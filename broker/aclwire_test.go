package broker

import (
	"testing"

	"github.com/fleetgate/fleetgate/store"
)

// expectOnly waits for the next message, requires it to be the sentinel,
// and requires nothing else to be queued. The broker writes to one client
// in order, and the sentinel was published after everything the test
// wants to be absent, so anything that leaked would have come first.
func (f *fixture) expectOnly(c *client, topic, payload string) {
	f.t.Helper()
	f.receive(c, topic, payload)
	select {
	case m := <-c.messages:
		f.t.Fatalf("unexpected message %q %q", m.Topic(), m.Payload())
	default:
	}
}

// TestACLOverTheWire: subscriptions outside the namespace get SUBACK 0x80
// and receive nothing; shared subscriptions inside it work.
func TestACLOverTheWire(t *testing.T) {
	f := newFixture(t, nil)
	certA := f.device("dev-a", nil)
	certB := f.device("dev-b", func(d *store.Device) { d.Publish = []string{"devices/dev-a/inbox"} })
	a := f.mustConnect(&certA, "dev-a")
	b := f.mustConnect(&certB, "dev-b")

	for _, filter := range []string{"#", "+/x/#", "devices/dev-b/#", "devices/+/x", "$share/g/devices/dev-b/#", "$SYS/#", "$share//devices/dev-a/#"} {
		t.Run("error/"+filter, func(t *testing.T) {
			f := f.sub(t)
			if code := f.subscribe(a, filter); code != 0x80 {
				t.Fatalf("SUBACK %#x, want 0x80", code)
			}
		})
	}
	for _, filter := range []string{"devices/dev-a/inbox", "$share/g/devices/dev-a/shared"} {
		t.Run("ok/"+filter, func(t *testing.T) {
			f := f.sub(t)
			if code := f.subscribe(a, filter); code != 1 {
				t.Fatalf("SUBACK %#x, want 1", code)
			}
		})
	}
	// b publishes where a's refused filters would have matched, then a
	// sentinel a may receive. b's packets are handled in order, so the
	// sentinel is fanned out after the others.
	f.publish(b, "devices/dev-b/x", "secret", false)
	f.publish(b, "devices/dev-b/x/y", "secret", false)
	f.publish(b, "devices/dev-a/inbox", "sentinel", false)
	f.expectOnly(a, "devices/dev-a/inbox", "sentinel")

	f.publish(a, "devices/dev-a/shared", "to the group", false)
	f.expectOnly(a, "devices/dev-a/shared", "to the group")
}

// TestPublishOutsideACL: a QoS 0 publish outside the namespace is dropped
// silently; mochi answers a QoS 1 one from an MQTT 3.1.1 client by closing
// the connection (3.1.1 has no negative PUBACK).
func TestPublishOutsideACL(t *testing.T) {
	f := newFixture(t, nil)
	certA := f.device("pub-a", nil)
	certB := f.device("pub-b", func(d *store.Device) { d.Publish = []string{"devices/pub-a/inbox"} })
	a := f.mustConnect(&certA, "pub-a")
	b := f.mustConnect(&certB, "pub-b")
	if code := f.subscribe(a, "devices/pub-a/#"); code != 1 {
		t.Fatalf("SUBACK %#x, want 1", code)
	}
	// b may not write into a's namespace except the inbox.
	if tok := b.Publish("devices/pub-a/cmd", 0, false, "forged"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("QoS 0 publish: %v", tok.Error())
	}
	f.publish(b, "devices/pub-a/inbox", "sentinel", false)
	f.expectOnly(a, "devices/pub-a/inbox", "sentinel")

	_ = b.Publish("devices/pub-a/cmd", 1, false, "forged")
	f.awaitLost(b)
	f.logs.await(t, "client disconnected", "client=pub-b")
	if f.b.Connected("pub-b") {
		t.Fatal("broker still reports pub-b connected")
	}
	f.roundTrip(a, "pub-a")
}

// TestRetainedOutsideACL: a retained publish to a foreign topic is not
// stored; a retained publish in the namespace is delivered to a granted
// subscriber.
func TestRetainedOutsideACL(t *testing.T) {
	f := newFixture(t, nil)
	certA := f.device("ret-a", nil)
	certB := f.device("ret-b", func(d *store.Device) { d.Subscribe = []string{"devices/ret-a/state"} })
	a := f.mustConnect(&certA, "ret-a")

	// QoS 0, so that the refusal is silent and a stays connected; the
	// round trip after it proves the broker has handled it.
	if tok := a.Publish("devices/ret-b/state", 0, true, "forged"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	f.publish(a, "devices/ret-a/state", "mine", true)
	f.roundTrip(a, "ret-a")

	b := f.mustConnect(&certB, "ret-b")
	// No retained message waits on b's own topic: the first thing b gets
	// there is what it publishes itself after subscribing.
	if code := f.subscribe(b, "devices/ret-b/state"); code != 1 {
		t.Fatalf("SUBACK %#x, want 1", code)
	}
	f.publish(b, "devices/ret-b/state", "live", false)
	f.expectOnly(b, "devices/ret-b/state", "live")

	// The granted topic does hold a's retained message.
	if code := f.subscribe(b, "devices/ret-a/state"); code != 1 {
		t.Fatalf("SUBACK %#x, want 1", code)
	}
	f.receive(b, "devices/ret-a/state", "mine")
}
