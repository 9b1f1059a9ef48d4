package test

import (
	"strings"
	"testing"
)

// TestReloadRotationSIGHUP rotates the device intermediate under a running
// server and reloads it with SIGHUP only (file watching is off).
func TestReloadRotationSIGHUP(t *testing.T) {
	s := startServer(t, t.TempDir(), "--reload-interval", "0")
	rotationScenario(t, s, true)
}

// TestReloadRotationFileChange does the same with no signal: the server
// notices the changed CA files by itself.
func TestReloadRotationFileChange(t *testing.T) {
	s := startServer(t, t.TempDir(), "--reload-interval", "500ms")
	rotationScenario(t, s, false)
}

// rotationScenario: a device connected under the old intermediate stays
// connected through a rotation and a retirement and keeps receiving;
// after the rotation, new certificates chain to the new intermediate and
// connect, and a device of the old one still connects; after the
// retirement, that device is refused at the TLS handshake.
func rotationScenario(t *testing.T, s *server, sighup bool) {
	subCert, subKey := s.Device("dev-sub")
	spareCert, spareKey := s.Device("dev-spare", "--publish", "devices/dev-sub/#")
	oldSerial := issuerSerial(t, subCert)

	sub := s.startSub(t, "dev-sub", subCert, subKey, "-t", "devices/dev-sub/#", "-q", "1")
	sub.waitFor(t, "received SUBACK")

	out := s.caCmd(t, "rotate-intermediate")
	newSerial := serialIn(t, out, "new issuing intermediate")
	if got := serialIn(t, out, "old intermediate, now trusted only"); got != oldSerial {
		t.Fatalf("rotation reports old intermediate %s, want %s", got, oldSerial)
	}
	if sighup {
		// No watcher runs: until the signal the server issues as before.
		beforeCert, _ := s.Device("dev-before-hup")
		if got := issuerSerial(t, beforeCert); got != oldSerial {
			t.Fatalf("issued by %s before SIGHUP, want the old %s: something reloaded without the signal", got, oldSerial)
		}
	}
	s.reloadVia(t, sighup, "issuing intermediate "+oldSerial+" -> "+newSerial, "trusted intermediate added "+oldSerial)

	newCert, newKey := s.Device("dev-new", "--publish", "devices/dev-sub/#")
	if got := issuerSerial(t, newCert); got != newSerial {
		t.Fatalf("certificate issued after the reload chains to %s, want the new intermediate %s", got, newSerial)
	}
	if out, code := s.pub(t, "dev-new", newCert, newKey, "-t", "devices/dev-sub/x", "-m", "after-rotation", "-q", "1"); code != 0 {
		t.Fatalf("device of the new intermediate refused (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "after-rotation")
	if out, code := s.pub(t, "dev-spare", spareCert, spareKey, "-t", "devices/dev-sub/x", "-m", "old-still-trusted", "-q", "1"); code != 0 {
		t.Fatalf("device of the trusted old intermediate refused (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "old-still-trusted")

	s.caCmd(t, "retire-intermediate", oldSerial)
	s.reloadVia(t, sighup, "trusted intermediate retired "+oldSerial)

	refusals := s.Logs.Count("tls handshake failed", "reason=bad_certificate")
	out2, code := s.pub(t, "dev-spare", spareCert, spareKey, "-t", "devices/dev-sub/x", "-m", "after-retire-spare", "-q", "1")
	if code == 0 {
		t.Fatalf("device of the retired intermediate connected:\n%s", out2)
	}
	if strings.Contains(out2, "not authori") {
		t.Fatalf("device of the retired intermediate got as far as CONNECT, want a refused handshake:\n%s", out2)
	}
	s.awaitLog(t, refusals+1, "tls handshake failed", "reason=bad_certificate")
	t.Logf("device of the retired intermediate refused (exit %d): %s", code, strings.TrimSpace(out2))

	if out, code := s.pub(t, "dev-new", newCert, newKey, "-t", "devices/dev-sub/x", "-m", "after-retire", "-q", "1"); code != 0 {
		t.Fatalf("device of the new intermediate refused after the retirement (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "after-retire")
	if strings.Contains(sub.output(), "after-retire-spare") {
		t.Fatal("a message from the refused device arrived")
	}
	stayedConnected(t, sub)
	if s.Logs.Count("device disconnected", "dev-sub") != 0 {
		t.Fatalf("the broker disconnected dev-sub:\n%s", s.Logs.String())
	}
}
