package broker

import (
	"net"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// TestDisconnectReasons: the reasons of a disconnected event other than
// client and revoked (TestEventsEveryField): keepalive, taken over, a
// broker limit, certificate expiry.
func TestDisconnectReasons(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxPacketSize = 1024 })
	be := f.backend("backend-1", EventsRoot+EventDisconnected+"/#")
	withDetail := append(eventFields[EventDisconnected][:len(eventFields[EventDisconnected]):len(eventFields[EventDisconnected])], "detail")

	tests := []struct {
		name, id       string
		cause          func(f *fixture, id string)
		reason, detail string
	}{
		{
			name: "ok/keepalive", id: "silent", reason: DisconnectKeepalive,
			cause: func(f *fixture, id string) {
				cert := f.device(id, nil)
				// Keepalive 1 s, then silence: mochi closes after 1.5 s.
				c, err := mqttwire.Dial(f.t.Context(), &net.Dialer{}, f.b.Addr().String(), f.tlsConfig(&cert), id, 1)
				if err != nil {
					f.t.Fatal(err)
				}
				f.t.Cleanup(func() { _ = c.Conn.Close() })
			},
		},
		{
			name: "ok/taken over", id: "twin", reason: DisconnectTakenOver,
			cause: func(f *fixture, id string) {
				cert := f.device(id, nil)
				f.mustConnect(&cert, id)
				f.mustConnect(&cert, id)
			},
		},
		{
			name: "ok/packet over the limit", id: "chatty", reason: DisconnectLimit, detail: "packet_too_large",
			cause: func(f *fixture, id string) {
				cert := f.device(id, nil)
				c := f.mustConnect(&cert, id)
				_ = c.Publish("devices/"+id+"/x", 0, false, make([]byte, 2048))
			},
		},
		{
			name: "ok/certificate expired", id: "mayfly", reason: DisconnectExpired,
			cause: func(f *fixture, id string) {
				f.device(id, nil)
				cert := f.issue(id, 4*time.Second) // long enough to connect on a loaded machine
				f.mustConnect(&cert, id)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			tt.cause(f, tt.id)
			keys := eventFields[EventDisconnected]
			if tt.detail != "" {
				keys = withDetail
			}
			e := f.awaitEvent(be, EventDisconnected, tt.id, keys)
			if e.Reason != tt.reason || e.Detail != tt.detail {
				t.Fatalf("reason %q detail %q, want %q %q", e.Reason, e.Detail, tt.reason, tt.detail)
			}
		})
	}
}
