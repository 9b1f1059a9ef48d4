package broker

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// FuzzSubscribe connects as fz-a and sends arbitrary bytes after the
// CONNECT. No SUBACK may grant a filter outside devices/fz-a/#, and the
// broker's ACL must agree with the oracle on every filter mochi decodes.
// SUBACKs are matched to the SUBSCRIBE packets in the order mochi handles
// them; one it refused to answer is skipped.
func FuzzSubscribe(f *testing.F) {
	e := newFuzzEnv(f)
	g := fuzzGrants()
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := append(mqttwire.Connect(fuzzDevice, 60, true), data...)
		var subs []packets.Packet
		for _, pk := range decodeStream(stream)[1:] {
			if pk.FixedHeader.Type == packets.Connect {
				break // a second CONNECT ends the connection
			}
			if pk.FixedHeader.Type != packets.Subscribe {
				continue
			}
			subs = append(subs, pk)
			for _, s := range pk.Filters {
				if got, want := g.canSubscribe(s.Filter), oracleSubscribe(fuzzDevice, s.Filter); got != want {
					t.Fatalf("canSubscribe(%q) = %v, oracle %v", s.Filter, got, want)
				}
			}
		}
		resp := e.exchange(t, stream)
		next := 0
		for _, p := range resp {
			if p.fh.Type != packets.Suback {
				continue
			}
			ack := packets.Packet{FixedHeader: p.fh, ProtocolVersion: 4}
			if err := ack.SubackDecode(p.body); err != nil {
				t.Fatalf("SUBACK from the broker does not decode: %v", err)
			}
			for next < len(subs) && (subs[next].PacketID != ack.PacketID || len(subs[next].Filters) != len(ack.ReasonCodes)) {
				next++
			}
			if next == len(subs) {
				t.Fatalf("SUBACK %d with %d codes answers no SUBSCRIBE that was sent", ack.PacketID, len(ack.ReasonCodes))
			}
			for i, code := range ack.ReasonCodes {
				if filter := subs[next].Filters[i].Filter; code < 0x80 && !oracleSubscribe(fuzzDevice, filter) {
					t.Fatalf("filter %q outside devices/%s/# granted with code %#x", filter, fuzzDevice, code)
				}
			}
			next++
		}
	})
}
