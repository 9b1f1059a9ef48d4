package broker

import (
	"encoding/binary"
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
// 0x93.
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
	// The rest wait in the broker, marked to be sent once a slot frees.
	deadline := time.Now().Add(wait)
	for {
		cl, ok := f.b.server.Clients.Get("slowack")
		if ok && len(cl.State.Inflight.GetAll(true)) == sent-n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker does not hold %d deliveries back", sent-n)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
}
