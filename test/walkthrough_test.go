package test

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWalkthrough follows the README: register a device, issue its
// certificate, publish with mosquitto_pub, then revoke it and watch its live
// mosquitto_sub session drop and its reconnect be refused.
func TestWalkthrough(t *testing.T) {
	s := startServer(t, t.TempDir())
	cert, key := s.Device("dev-001")

	sub := s.startSub(t, "dev-001", cert, key, "-t", "devices/dev-001/#")
	sub.waitFor(t, "received SUBACK")

	if out, code := s.pub(t, "dev-001-pub", cert, key, "-t", "devices/dev-001/hello", "-m", "x"); code == 0 {
		t.Fatalf("a second client ID on dev-001's certificate was admitted:\n%s", out)
	}
	// mosquitto_pub must use the certificate's identity as client ID; it
	// reuses it here, which takes over the subscriber's session, so publish
	// from a second device that the registry lets publish into dev-001's
	// namespace instead.
	pcert, pkey := s.Device("dev-002", "--publish", "devices/dev-001/#")
	if out, code := s.pub(t, "dev-002", pcert, pkey, "-t", "devices/dev-001/hello", "-m", "hello-from-dev-002", "-q", "1"); code != 0 {
		t.Fatalf("mosquitto_pub refused (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "hello-from-dev-002")

	revoked := time.Now()
	s.MustCtl("device", "revoke", "dev-001", "--reason", "walkthrough")
	code := sub.waitExit(t, 30*time.Second)
	t.Logf("mosquitto_sub exited %s after the revoke command returned exit code %d", time.Since(revoked), code)
	if code == 0 {
		t.Fatalf("mosquitto_sub exited 0 after revocation; output:\n%s", sub.output())
	}
	if !strings.Contains(sub.output(), "not authori") {
		t.Fatalf("mosquitto_sub's reconnect after revoke was not refused as not authorised; output:\n%s", sub.output())
	}
	if m := regexp.MustCompile(`device disconnected.*delay_ms=(\S+)`).FindStringSubmatch(s.Logs.String()); m != nil {
		t.Logf("broker: change-feed-to-disconnect delay %s ms", m[1])
	} else {
		t.Errorf("broker log has no 'device disconnected ... delay_ms' line:\n%s", s.Logs.String())
	}

	out, code2 := s.pub(t, "dev-001", cert, key, "-t", "devices/dev-001/hello", "-m", "again")
	if code2 == 0 || !strings.Contains(out, "not authori") {
		t.Fatalf("revoked device could publish again (exit %d):\n%s", code2, out)
	}
}
