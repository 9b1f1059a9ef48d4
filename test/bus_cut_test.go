package test

import (
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/netcut"
)

// cutOff cuts broker c off from NATS (its only way there is the proxy)
// while b stays connected: local delivery on c goes on and PUBACKs are
// not held, c's log and fleetgate_bus_connected say so, what c did not
// forward is counted, and once NATS is back c routes again in both
// directions, for a subscription made during the cut too, and serves a
// retained message set elsewhere during the cut. retainedOn awaits c's
// retained message for a topic.
func cutOff(t *testing.T, f *fleet, cut *netcut.Proxy, b, c *server, dev *pahoDevice, retainedOn func(t *testing.T, topic, want string)) {
	grant := []string{"--subscribe", "devices/#"}
	devCCert, _, _ := f.device(t, "dev-c")
	localCert, _, _ := f.device(t, "local-c", grant...)
	remoteCert, _, _ := f.device(t, "remote-b", grant...)
	lateCert, _, _ := f.device(t, "late-c", grant...)
	devC := f.pahoOn(t, c, devCCert, "dev-c")
	local := f.pahoOn(t, c, localCert, "local-c")
	remote := f.pahoOn(t, b, remoteCert, "remote-b")
	for _, d := range []*pahoDevice{local, remote} {
		if code := d.subscribe(t, "devices/dev-c/#"); code != 1 {
			t.Fatalf("SUBACK %#x", code)
		}
	}
	awaitVia(t, devC, remote, "devices/dev-c/x", "before")
	const down = `fleetgate_bus_messages_total{direction="out",result="bus_down"}`
	if v := metric(t, c, "fleetgate_bus_connected"); v != 1 {
		t.Fatalf("fleetgate_bus_connected before the cut: %v", v)
	}

	cut.Cut()
	c.Logs.Await(t, busWait, "bus unreachable; routing paused, local delivery goes on")
	awaitMetric(t, c, "fleetgate_bus_connected", func(v float64) bool { return v == 0 })
	devC.publish(t, "devices/dev-c/x", "during", false) // PUBACK: nothing waits for NATS
	drainUntil(t, local, "devices/dev-c/x", "during")
	devC.publish(t, "devices/dev-c/state", "cut", true) // retained here only
	awaitMetric(t, c, down, func(v float64) bool { return v >= 2 })
	late := f.pahoOn(t, c, lateCert, "late-c")
	if code := late.subscribe(t, "devices/dev-a/late"); code != 1 {
		t.Fatalf("SUBACK during the cut %#x", code)
	}
	dev.publish(t, "devices/dev-a/cutstate", "set-during-cut", true)

	cut.Restore()
	c.Logs.Await(t, busWait, "bus reachable again")
	awaitMetric(t, c, "fleetgate_bus_connected", func(v float64) bool { return v == 1 })
	awaitVia(t, dev, late, "devices/dev-a/late", "after")
	for _, m := range awaitVia(t, devC, remote, "devices/dev-c/x", "after") {
		if string(m.Payload()) == "during" {
			t.Errorf("a message published during the cut reached another broker after it: %s", m.Payload())
		}
	}
	retainedOn(t, "devices/dev-a/cutstate", "set-during-cut")
}
