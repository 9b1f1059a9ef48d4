package mqttwire

import (
	"bytes"
	"testing"
)

// TestPacketBytes pins the exact bytes of the packets tests hand-craft,
// written out from the MQTT 3.1.1 and 5.0 specifications.
func TestPacketBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"ok/connect 3.1.1 clean", Connect("d", 60, true),
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'd'}},
		{"ok/connect 3.1.1 persistent", ConnectOptions{ClientID: "d", KeepAlive: 60}.Packet(),
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 60, 0, 1, 'd'}},
		{"ok/connect 5", ConnectOptions{ClientID: "d", KeepAlive: 60, Clean: true, Level: 5}.Packet(),
			[]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 1, 'd'}},
		{"ok/connect will qos1", ConnectOptions{ClientID: "d", KeepAlive: 60, Clean: true, WillTopic: "w", WillPayload: "x", WillQoS: 1}.Packet(),
			[]byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x0e, 0, 60, 0, 1, 'd', 0, 1, 'w', 0, 1, 'x'}},
		{"ok/publish retained qos1", PublishRetained("t", 1, 258, []byte("p")),
			[]byte{0x33, 6, 0, 1, 't', 1, 2, 'p'}},
		{"ok/frame two-byte length", Frame(0xe0, make([]byte, 200))[:3], []byte{0xe0, 0xc8, 0x01}},
		{"ok/length at the 256 MiB limit", AppendLength(nil, 256<<20-1), []byte{0xff, 0xff, 0xff, 0x7f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Equal(tc.got, tc.want) {
				t.Errorf("got % x\nwant % x", tc.got, tc.want)
			}
		})
	}
}

// TestPublishFlags reads the flags back from a retained QoS 1 PUBLISH.
func TestPublishFlags(t *testing.T) {
	p := Packet{Type: PUBLISH, Flags: PublishRetained("t", 1, 1, nil)[0] & 0x0f}
	if p.QoS() != 1 || !p.Retain() || p.Dup() {
		t.Errorf("QoS %d, Retain %v, Dup %v; want 1, true, false", p.QoS(), p.Retain(), p.Dup())
	}
}
