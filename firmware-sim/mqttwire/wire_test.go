package mqttwire

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 300) // a two-byte remaining length
	for _, tc := range []struct {
		name      string
		pkt       []byte
		typ       byte
		topic     string
		id        uint16
		payload   []byte
		isPublish bool
	}{
		{name: "ok/connect", pkt: Connect("dev-1", 60, true), typ: CONNECT},
		{name: "ok/connack", pkt: Connack(5), typ: CONNACK},
		{name: "ok/publish qos0", pkt: Publish("devices/a/x", 0, 9, []byte("hi")), typ: PUBLISH, topic: "devices/a/x", id: 0, payload: []byte("hi"), isPublish: true},
		{name: "ok/publish qos1 long", pkt: Publish("devices/a/y", 1, 513, big), typ: PUBLISH, topic: "devices/a/y", id: 513, payload: big, isPublish: true},
		{name: "ok/puback", pkt: Puback(770), typ: PUBACK, id: 770},
		{name: "ok/subscribe", pkt: Subscribe(3, "devices/a/#", 1), typ: SUBSCRIBE, id: 3},
		{name: "ok/disconnect", pkt: Disconnect, typ: DISCONNECT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadPacket(bufio.NewReader(bytes.NewReader(tc.pkt)), MaxPacket)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != tc.typ {
				t.Fatalf("type %d, want %d", p.Type, tc.typ)
			}
			if !tc.isPublish {
				if tc.id != 0 && PacketID(p) != tc.id {
					t.Errorf("packet id %d, want %d", PacketID(p), tc.id)
				}
				return
			}
			topic, id, payload, err := ParsePublish(p)
			if err != nil || topic != tc.topic || id != tc.id || !bytes.Equal(payload, tc.payload) {
				t.Errorf("ParsePublish = %q %d %q %v", topic, id, payload, err)
			}
		})
	}
}

func TestReadPacketErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"error/five length bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, MaxPacket, ErrMalformed},
		{"error/over the limit", Publish("t", 0, 0, make([]byte, 100)), 50, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadPacket(bufio.NewReader(bytes.NewReader(tc.in)), tc.max); !errors.Is(err, tc.want) {
				t.Errorf("ReadPacket = %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, _, err := ParsePublish(Packet{Type: PUBLISH, Flags: 2, Body: []byte{0, 1, 'a'}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("error/qos1 publish without id: %v", err)
	}
}
