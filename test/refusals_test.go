package test

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
)

// TestMosquittoRefusals drives the broker with Debian's mosquitto clients:
// a spoofed client ID, subscriptions outside the namespace, a foreign Will
// and a retained message on a foreign topic. The victim device stays
// connected and sees nothing it should not.
func TestMosquittoRefusals(t *testing.T) {
	s := startServer(t, t.TempDir())
	acert, akey := s.Device("dev-a")
	bcert, bkey := s.Device("dev-b")

	// dev-b is connected and listening to its own namespace throughout.
	victim := s.startSub(t, "dev-b", bcert, bkey, "-t", "devices/dev-b/#")
	victim.waitFor(t, "received SUBACK")

	t.Run("error/spoofed client id", func(t *testing.T) {
		out, code := s.pub(t, "dev-b", acert, akey, "-t", "devices/dev-b/x", "-m", "spoof")
		if code == 0 || !strings.Contains(out, "not authori") {
			t.Fatalf("dev-a's certificate with client ID dev-b was not refused (exit %d):\n%s", code, out)
		}
	})

	for _, filter := range []string{"#", "+/dev-b/#", "devices/dev-b/#", "devices/+/status", "$share/g/devices/dev-b/#", "$SYS/#"} {
		t.Run("error/subscribe "+filter, func(t *testing.T) {
			m := s.startSub(t, "dev-a", acert, akey, "-t", filter)
			m.waitExit(t, 30*time.Second)
			if !strings.Contains(m.output(), "denied") && !strings.Contains(m.output(), "128") {
				t.Fatalf("subscription to %q was not denied; output:\n%s", filter, m.output())
			}
		})
	}

	t.Run("error/will on a foreign topic", func(t *testing.T) {
		out, code := s.pub(t, "dev-a", acert, akey, "--will-topic", "devices/dev-b/status", "--will-payload", "offline",
			"-t", "devices/dev-a/x", "-m", "x")
		if code == 0 || !strings.Contains(out, "not authori") {
			t.Fatalf("a Will on dev-b's topic was accepted (exit %d):\n%s", code, out)
		}
	})

	t.Run("error/retained publish on a foreign topic", func(t *testing.T) {
		// QoS 0 publishes outside the ACL are dropped silently (MQTT 3.1.1
		// has no way to say no); the proof is that nothing arrives.
		if out, code := s.pub(t, "dev-a", acert, akey, "-t", "devices/dev-b/cmd", "-m", "evil-retained", "-r"); code != 0 {
			t.Logf("mosquitto_pub exit %d: %s", code, out)
		}
		// A later subscriber with the right to that topic must get no
		// retained message; -W bounds how long it waits for one.
		late := s.startSub(t, "dev-b", bcert, bkey, "-t", "devices/dev-b/cmd", "-W", "2")
		late.waitExit(t, 30*time.Second)
		if strings.Contains(late.output(), "evil-retained") {
			t.Fatalf("retained message from dev-a reached dev-b:\n%s", late.output())
		}
	})

	// The victim took over its own session in the last case (same identity);
	// start again and check that its own traffic still flows.
	victim2 := s.startSub(t, "dev-b", bcert, bkey, "-t", "devices/dev-b/#")
	victim2.waitFor(t, "received SUBACK")
	s.MustCtl("device", "register", "dev-c", "--publish", "devices/dev-b/inbox")
	ccert, ckey := t.TempDir()+"/c.crt", t.TempDir()+"/c.key"
	s.MustCtl("cert", "issue", "dev-c", "--new-key", ckey, "--out", ccert)
	if out, code := s.pub(t, "dev-c", ccert, ckey, "-t", "devices/dev-b/inbox", "-m", "granted-message", "-q", "1"); code != 0 {
		t.Fatalf("granted publish refused (exit %d): %s", code, out)
	}
	victim2.waitFor(t, "granted-message")
	if strings.Contains(victim.output()+victim2.output(), "evil") || strings.Contains(victim.output()+victim2.output(), "spoof") {
		t.Fatalf("dev-b received a message it should not have:\n%s\n%s", victim.output(), victim2.output())
	}
}

// TestSuspendResume: a suspended device is dropped and refused, a resumed
// one connects again.
func TestSuspendResume(t *testing.T) {
	s := startServer(t, t.TempDir())
	cert, key := s.Device("dev-s")
	m := s.startSub(t, "dev-s", cert, key, "-t", "devices/dev-s/#")
	m.waitFor(t, "received SUBACK")
	s.MustCtl("device", "suspend", "dev-s", "--reason", "maintenance")
	if code := m.waitExit(t, 30*time.Second); code == 0 {
		t.Fatalf("suspended device's mosquitto_sub exited 0:\n%s", m.output())
	}
	if out, code := s.pub(t, "dev-s", cert, key, "-t", "devices/dev-s/x", "-m", "x"); code == 0 {
		t.Fatalf("suspended device admitted:\n%s", out)
	}
	s.MustCtl("device", "resume", "dev-s")
	if out, code := s.pub(t, "dev-s", cert, key, "-t", "devices/dev-s/x", "-m", "x"); code != 0 {
		t.Fatalf("resumed device refused (exit %d):\n%s", code, out)
	}
}

// TestHalfOpenSockets: a socket that never starts TLS and one that never
// sends CONNECT are both closed by the server at the handshake deadline.
func TestHalfOpenSockets(t *testing.T) {
	s := startServer(t, t.TempDir(), "--handshake-timeout", "1s")
	cert, key := s.Device("dev-h")
	addr := s.MQTT

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	expectClosed(t, "silent TCP socket", raw)

	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	expectClosed(t, "TLS socket without CONNECT", tc)
}

// expectClosed reads until the server closes the connection; the client's
// own deadline only guards the test against hanging.
func expectClosed(t *testing.T, what string, c net.Conn) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: server kept it open for 30s", what)
	}
	t.Logf("%s: closed by the server after %s", what, time.Since(start).Round(time.Millisecond))
}

// TestSecondServerSameDataDir: a second server on the same data directory
// exits with a clear message instead of hanging or corrupting the registry.
func TestSecondServerSameDataDir(t *testing.T) {
	dir := t.TempDir()
	startServer(t, dir)
	out, errOut, code := fleetserver.Run(t, bins.Fleetgate(t), "serve", "--data", dir, "--mqtt-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
	if code == 0 {
		t.Fatalf("second server exited 0:\n%s%s", out, errOut)
	}
	if !strings.Contains(errOut, "another fleetgate server is already using") {
		t.Fatalf("second server's message does not say why:\n%s", errOut)
	}
}
