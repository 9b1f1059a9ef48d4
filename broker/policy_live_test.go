package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// TestACLChangeLive: a backend identity gets its rights from its group's
// templates; when an operator narrows them, the live subscription is
// removed and the backend stops receiving, without a reconnect; a grant
// added to the device applies to its next SUBSCRIBE.
func TestACLChangeLive(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	if _, err := f.db.SetGroupACL(ctx, "backends", []string{"devices/+/cmd/#"}, []string{"devices/+/telemetry", "sites/{meta.site}/#"}, actor); err != nil {
		t.Fatal(err)
	}
	beCert := f.device("be-1", func(d *store.Device) {
		d.Group, d.Metadata = "backends", map[string]string{"site": "berlin"}
	})
	sensorCert := f.device("sensor-1", nil)
	be := f.mustConnect(&beCert, "be-1")
	sensor := f.mustConnect(&sensorCert, "sensor-1")

	for _, tt := range []struct {
		filter string
		want   byte
	}{
		{"devices/+/telemetry", 1},
		{"sites/berlin/#", 1},
		{"sites/paris/#", 0x80}, // another site's metadata value
		{"devices/+/cmd/#", 0x80},
		{"devices/#", 0x80},
	} {
		if code := f.subscribe(be, tt.filter); code != tt.want {
			t.Fatalf("backend subscribe %q: code %#x, want %#x", tt.filter, code, tt.want)
		}
	}
	if code := f.subscribe(sensor, "devices/sensor-1/cmd/#"); code != 1 {
		t.Fatalf("sensor subscribe: code %#x", code)
	}
	f.publish(be, "devices/sensor-1/cmd/reboot", "now", false)
	f.receive(sensor, "devices/sensor-1/cmd/reboot", "now")
	f.publish(sensor, "devices/sensor-1/telemetry", "t1", false)
	f.receive(be, "devices/sensor-1/telemetry", "t1")

	// Narrow the group mid-stream: no telemetry, no commands.
	start := time.Now()
	if _, err := f.db.SetGroupACL(ctx, "backends", nil, []string{"sites/{meta.site}/#"}, actor); err != nil {
		t.Fatal(err)
	}
	line := f.logs.await(t, "ACL changed; session re-judged", "device=be-1", "removed=[devices/+/telemetry]")
	t.Logf("re-judged %v after the registry call returned; broker log: %s", time.Since(start), line[strings.Index(line, "delay_ms"):])
	f.publish(sensor, "devices/sensor-1/telemetry", "t2", false)
	// QoS 0: a refused QoS 0 PUBLISH is dropped without an answer.
	if tok := be.Publish("devices/sensor-1/cmd/reboot", 0, false, "again"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("backend publish: %v", tok.Error())
	}
	// Each round trip is ordered after what was sent before it: a message
	// that got through would arrive first and fail the round trip.
	f.roundTrip(be, "be-1")
	f.roundTrip(sensor, "sensor-1")
	if !f.b.Connected("be-1") {
		t.Fatal("the backend was disconnected; want only its subscription removed")
	}

	// A new grant applies to the next SUBSCRIBE.
	if code := f.subscribe(be, "fleet/alerts"); code != 0x80 {
		t.Fatalf("subscribe before the grant: code %#x", code)
	}
	if _, err := f.db.SetDeviceGrants(ctx, "be-1", nil, []string{"fleet/alerts"}, actor); err != nil {
		t.Fatal(err)
	}
	f.logs.await(t, "ACL changed; session re-judged", "device=be-1", "removed=[]")
	if code := f.subscribe(be, "fleet/alerts"); code != 1 {
		t.Fatalf("subscribe after the grant: code %#x", code)
	}
	if code := f.subscribe(be, "devices/+/telemetry"); code != 0x80 {
		t.Fatalf("subscribe to a removed right: code %#x", code)
	}
}
