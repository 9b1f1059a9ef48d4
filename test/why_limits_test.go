package test

import (
	"strings"
	"testing"
)

// TestDeviceWhyConnectRate: with --limit-connects-per-minute 1, a second
// CONNECT of one device within the minute is refused ("server unavailable"
// to a 3.1.1 client), and `fleetgate device why` names the limit and what
// to look at.
func TestDeviceWhyConnectRate(t *testing.T) {
	s := startServer(t, t.TempDir(), "--limit-connects-per-minute", "1")
	cert, key := s.Device("pump-40")
	if out, code := s.pub(t, "pump-40", cert, key, "-t", "devices/pump-40/x", "-m", "first"); code != 0 {
		t.Fatalf("first connect refused (exit %d):\n%s", code, out)
	}
	out, code := s.pub(t, "pump-40", cert, key, "-t", "devices/pump-40/x", "-m", "second")
	if code == 0 || !strings.Contains(strings.ToLower(out), "unavailable") {
		t.Fatalf("second connect within the minute was not refused as \"server unavailable\" (exit %d):\n%s", code, out)
	}
	d := s.awaitWhy(t, "pump-40", "connected more often than the broker's limit allows", "more than 1 connects per minute")
	if d.Refusals[0].Check != "connect_rate" || !strings.Contains(d.NextStep, "reconnects so often") {
		t.Fatalf("diagnosis %+v", d)
	}
}
