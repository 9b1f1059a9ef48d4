package test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestBusSlowStore: a broker whose NATS server stalls (SIGSTOP) while
// devices publish at QoS 1. The publisher's connection keeps working (a
// PINGREQ is answered) while its messages wait for the stream; no PUBACK
// and no delivery comes before the stream holds a message; once it does,
// the PUBACKs come in the publisher's order and a subscriber on the same
// broker gets the messages in that order. A store that outlasts
// --bus-store-timeout refuses its publisher (MQTT 5 PUBACK 0x80, MQTT
// 3.1.1 connection closed) and is delivered to no one here. A device that
// connects meanwhile is served, and its lifecycle event (stored at QoS 1,
// without holding the device) reaches a subscriber once stored.
func TestBusSlowStore(t *testing.T) {
	const storeTimeout = "8s"
	ns := natstest.Start(t)
	f := startFleetAPI(t)
	a := f.startBroker(t, f.api.DataDir, "--bus", ns.URL, "--bus-store-timeout", storeTimeout)
	subCert, _, _ := f.device(t, "sink-s", "--subscribe", "devices/#")
	sub, _ := f.session(t, a, subCert, "sink-s", true)
	if code := sub.subscribe(t, 1, "devices/#", 1); code != 1 {
		t.Fatalf("SUBACK %#x, want QoS 1 granted", code)
	}
	cert, _, _ := f.device(t, "dev-s")
	dev, _ := f.session(t, a, cert, "dev-s", true)
	// The stream exists and the route works before NATS stalls.
	if err := publishAcked(dev, 100, "devices/dev-s/t", "warm"); err != nil {
		t.Fatal(err)
	}
	sub.awaitPayload(t, "warm")

	t.Run("slow store: connection alive, PUBACKs and deliveries in order", func(t *testing.T) {
		const stores = "fleetgate_bus_store_seconds_count"
		before := metric(t, a, stores)
		ns.Pause(t)
		paused := true
		defer func() {
			if paused {
				ns.Resume(t)
			}
		}()
		for i := 1; i <= 3; i++ {
			if err := dev.send(mqttwire.Publish("devices/dev-s/t", 1, uint16(i), []byte(fmt.Sprint("s-", i)))); err != nil {
				t.Fatal(err)
			}
		}
		if err := dev.send(mqttwire.Pingreq); err != nil {
			t.Fatal(err)
		}
		var early []byte
		if _, err := dev.await("PINGRESP", func(p mqttwire.Packet) bool {
			if p.Type != mqttwire.PINGRESP {
				early = append(early, p.Type)
			}
			return p.Type == mqttwire.PINGRESP
		}); err != nil {
			t.Fatalf("publisher's PINGREQ unanswered while its messages wait for the stream: %v", err)
		}
		if len(early) > 0 {
			t.Fatalf("packet types %v before the stream stored anything, want none", early)
		}
		ns.Resume(t)
		paused = false
		var acks []uint16
		for len(acks) < 3 {
			p, err := dev.await("PUBACK", func(p mqttwire.Packet) bool { return p.Type == mqttwire.PUBACK })
			if err != nil {
				t.Fatalf("PUBACKs after NATS resumed: %v (got %v)", err, acks)
			}
			acks = append(acks, mqttwire.PacketID(p))
		}
		if !slices.Equal(acks, []uint16{1, 2, 3}) {
			t.Fatalf("PUBACKs %v, want 1, 2, 3", acks)
		}
		sub.published = nil
		sub.awaitPayload(t, "s-3")
		var got []string
		for _, m := range sub.published {
			if m.qos != 1 {
				t.Errorf("%q delivered at QoS %d, want 1", m.payload, m.qos)
			}
			got = append(got, m.payload)
		}
		if !slices.Equal(got, []string{"s-1", "s-2", "s-3"}) {
			t.Fatalf("subscriber got %v, want s-1, s-2, s-3", got)
		}
		if after := metric(t, a, stores); before < 0 || after < before+3 {
			t.Errorf("%s: %v before, %v after, want 3 more", stores, before, after)
		}
	})

	t.Run("slow store of a lifecycle event: the device is served, the event arrives once stored", func(t *testing.T) {
		evCert, _, _ := f.device(t, "events-s", "--subscribe", broker.EventsRoot+"#")
		ev, _ := f.session(t, a, evCert, "events-s", true)
		topic := broker.EventsRoot + broker.EventConnected + "/dev-s7"
		if code := ev.subscribe(t, 1, topic, 1); code != 1 {
			t.Fatalf("SUBACK %#x, want QoS 1 granted", code)
		}
		ns.Pause(t)
		paused := true
		defer func() {
			if paused {
				ns.Resume(t)
			}
		}()
		c := plainDevice(t, f, a, "dev-s7")
		if err := c.send(mqttwire.Pingreq); err != nil {
			t.Fatal(err)
		}
		if _, err := c.await("PINGRESP", func(p mqttwire.Packet) bool { return p.Type == mqttwire.PINGRESP }); err != nil {
			t.Fatalf("device connected while NATS stalls: PINGREQ unanswered: %v", err)
		}
		ns.Resume(t)
		paused = false
		if _, err := ev.await("connected event", func(p mqttwire.Packet) bool {
			m, err := decodePublish(p)
			return err == nil && m.topic == topic
		}); err != nil {
			t.Fatalf("the connected event stored late never reached the subscriber on the same broker: %v", err)
		}
	})

	t.Run("store past the timeout: publisher refused, nothing delivered", func(t *testing.T) {
		const failed = `fleetgate_bus_messages_total{direction="out",result="store_failed"}`
		before := max(metric(t, a, failed), 0)
		cert5, _, _ := f.device(t, "dev-s5")
		v5 := f.sessionV5(t, a, cert5, "dev-s5")
		ns.Pause(t)
		if err := dev.send(mqttwire.Publish("devices/dev-s/t", 1, 9, []byte("lost-3"))); err != nil {
			t.Fatal(err)
		}
		expectRefusedV5(t, v5, "devices/dev-s5/t", "lost-5")
		ns.Resume(t)
		expectClosedMQTT(t, dev, "MQTT 3.1.1 publisher whose message outlasted the store timeout")
		for _, m := range dev.published {
			t.Fatalf("MQTT 3.1.1 publisher got %+v", m)
		}
		if after := metric(t, a, failed); after < before+2 {
			t.Errorf("%s: %v before, %v after, want 2 more", failed, before, after)
		}
		// Stored late or not at all, the refused messages reach no one
		// here: the next message is the first the subscriber gets.
		sub.published = nil
		if err := publishAcked(plainDevice(t, f, a, "dev-s6"), 1, "devices/dev-s6/t", "after"); err != nil {
			t.Fatal(err)
		}
		if got := sub.awaitPayload(t, "after"); len(got) != 1 {
			t.Fatalf("subscriber got %+v, want only the message after the refused ones", got)
		}
	})
}

// plainDevice registers id and connects it with MQTT 3.1.1, clean session.
func plainDevice(t *testing.T, f *fleet, a *server, id string) *mqttConn {
	t.Helper()
	cert, _, _ := f.device(t, id)
	c, _ := f.session(t, a, cert, id, true)
	return c
}
