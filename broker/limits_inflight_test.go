package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// publishQoS sends an MQTT 5 PUBLISH at qos (1 or 2) without properties.
func (v *v5) publishQoS(topic string, qos byte, id uint16, payload string) {
	v.t.Helper()
	b := append(binary.BigEndian.AppendUint16(mqttwire.AppendString(nil, topic), id), 0)
	v.send(mqttwire.Frame(mqttwire.PUBLISH<<4|qos<<1, append(b, payload...)))
}

// TestLimitMaxInflight: a group's MaxInflight is the Receive Maximum of
// its devices' CONNACK; the broker sends a device at most that many QoS 1
// messages until it acknowledges one; a device that sends more
// unacknowledged QoS 2 messages than it was told is disconnected with
// 0x93; an MQTT 3.1.1 device's deliveries are capped too.
func TestLimitMaxInflight(t *testing.T) {
	const n = 2
	f := newFixture(t, func(c *Config) { c.Limits.MaxInflight = 50 })
	if _, err := f.db.SetGroupLimits(t.Context(), "narrow", &store.Limits{MaxInflight: n}, actor); err != nil {
		t.Fatal(err)
	}
	cert := f.device("slowack", func(d *store.Device) { d.Group = "narrow" })
	v, ack := f.connackV5(&cert, "slowack")
	if got := ack.Properties.ReceiveMaximum; got != n {
		t.Fatalf("CONNACK Receive Maximum %d, want the group's %d", got, n)
	}
	if code := v.subscribe(1, "devices/slowack/#"); code != 1 {
		t.Fatalf("subscribe: %#x", code)
	}
	const sent = n + 2
	for i := range sent {
		v.publishQoS("devices/slowack/t", 1, uint16(10+i), string(rune('a'+i)))
	}
	var delivered []mqttwire.Packet
	for acks := 0; acks < sent || len(delivered) < n; {
		switch p := v.next(); p.Type {
		case mqttwire.PUBACK:
			acks++
		case mqttwire.PUBLISH:
			delivered = append(delivered, p)
		}
	}
	if len(delivered) > n {
		t.Fatalf("%d deliveries before any acknowledgement, want at most %d", len(delivered), n)
	}
	f.awaitHeld("slowack", sent-n)
	_, id, _, err := mqttwire.ParsePublish(delivered[0])
	if err != nil {
		t.Fatal(err)
	}
	v.send(mqttwire.Puback(id))
	for {
		if p := v.next(); p.Type == mqttwire.PUBLISH {
			break // an acknowledgement frees a slot for the next
		}
	}

	for i := range n + 1 { // QoS 2 without PUBREL: each holds a slot
		v.publishQoS("devices/slowack/q2", 2, uint16(100+i), "x")
	}
	if code := v.awaitDisconnect(); code != 0x93 {
		t.Fatalf("DISCONNECT reason %#x, want 0x93 receive maximum exceeded", code)
	}

	// MQTT 3.1.1 has no Receive Maximum to tell; the broker's sends are
	// capped all the same.
	cert3 := f.device("slowack3", func(d *store.Device) { d.Group = "narrow" })
	c, err := mqttwire.Dial(t.Context(), &net.Dialer{}, "127.0.0.1:"+f.port, f.tlsConfig(&cert3), "slowack3", 60)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	msgs := mqttwire.Subscribe(1, "devices/slowack3/#", 1)
	for i := range sent {
		msgs = append(msgs, mqttwire.Publish("devices/slowack3/t", 1, uint16(10+i), []byte{'a' + byte(i)})...)
	}
	if _, err := c.Write(msgs); err != nil {
		t.Fatal(err)
	}
	deliveries := 0
	for acks := 0; acks < sent+1 || deliveries < n; { // +1: the SUBACK
		p, err := mqttwire.ReadPacket(c.R, mqttwire.MaxPacket)
		if err != nil {
			t.Fatalf("3.1.1 read: %v", err)
		}
		switch p.Type {
		case mqttwire.PUBACK, mqttwire.SUBACK:
			acks++
		case mqttwire.PUBLISH:
			deliveries++
		}
	}
	if deliveries > n {
		t.Fatalf("3.1.1: %d deliveries before any acknowledgement, want at most %d", deliveries, n)
	}
	f.awaitHeld("slowack3", sent-n)
}

// awaitHeld waits until the broker holds n deliveries for clientID back,
// marked to be sent once an acknowledgement frees a slot.
func (f *fixture) awaitHeld(clientID string, n int) {
	f.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		cl, ok := f.b.server.Clients.Get(clientID)
		if ok && len(cl.State.Inflight.GetAll(true)) == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the broker does not hold %d deliveries to %s back", n, clientID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
