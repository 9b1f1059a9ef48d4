package broker

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// FuzzConnect sends arbitrary bytes as the first packet of a connection
// that presents fz-a's certificate. The broker must never admit (CONNACK
// 0) a CONNECT whose client ID is not fz-a or whose Will goes outside
// devices/fz-a/, and checkPacket must agree with the ACL oracle on every
// CONNECT mochi can decode.
func FuzzConnect(f *testing.F) {
	e := newFuzzEnv(f)
	g := fuzzGrants()
	f.Fuzz(func(t *testing.T, data []byte) {
		var first *packets.Packet
		if pks := decodeStream(data); len(pks) > 0 && pks[0].FixedHeader.Type == packets.Connect {
			first = &pks[0]
		}
		admissible := func(pk *packets.Packet) bool {
			return pk.Connect.ClientIdentifier == fuzzDevice &&
				(!pk.Connect.WillFlag || oraclePublish(fuzzDevice, pk.Connect.WillTopic))
		}
		if first != nil {
			if got, want := checkPacket(*first, fuzzDevice, g) == "", admissible(first); got != want {
				t.Fatalf("checkPacket admits %v, oracle %v: client ID %q, Will %v on %q",
					got, want, first.Connect.ClientIdentifier, first.Connect.WillFlag, first.Connect.WillTopic)
			}
		}
		for _, p := range e.exchange(t, data) {
			if p.fh.Type != packets.Connack {
				continue
			}
			if len(p.body) < 2 {
				t.Fatalf("CONNACK of %d bytes", len(p.body))
			}
			if p.body[1] != 0 {
				continue
			}
			if first == nil {
				t.Fatalf("admitted a connection whose first packet is not a CONNECT mochi decodes: %q", data)
			}
			if !admissible(first) {
				t.Fatalf("admitted client ID %q with Will %v on %q on fz-a's certificate",
					first.Connect.ClientIdentifier, first.Connect.WillFlag, first.Connect.WillTopic)
			}
		}
	})
}
