package test

import (
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// sessionRows attack what a session carries across connections: its Will
// and its in-flight and queued messages across a takeover, and a resumed
// TLS session of a device revoked in between.
func sessionRows() []attackRow {
	return []attackRow{
		{name: "error/will and inflight redelivery after takeover stay inside the ACL", run: takeoverStaysInside},
		{name: "error/resumed TLS session of a revoked device", run: resumedRevoked},
	}
}

// takeoverStaysInside: a device with a persistent session, a Will on its
// own topic and unacknowledged QoS 1 messages is taken over by a second
// connection of its own identity. A takeover attempt carrying a foreign
// Will is refused without disturbing the session; the real takeover gets
// the in-flight messages again, then the queued ones after a reconnect,
// and nothing else; the first connection's Will goes out on its own topic
// only. An observer allowed to read devices/# would see any stray Will.
func takeoverStaysInside(t *testing.T, e *attackEnv) {
	const id = "atk-will"
	ns := "devices/" + id + "/"
	foreignNS := "devices/" + victimID + "/"
	cert := e.device(t, id)
	persistent := session(id)
	persistent.Clean = false

	obs := e.connectMQTT(t, e.observer, session(observerID))
	if code := obs.subscribe(t, 1, "devices/#", 1); code != 1 {
		t.Fatalf("observer subscribe: SUBACK %#x", code)
	}
	withWill := persistent
	withWill.WillTopic, withWill.WillPayload = ns+"status", "will of the first connection"
	w1 := e.connectMQTT(t, cert, withWill)
	for i, f := range []string{ns + "in", "#", foreignNS + "#"} {
		want := byte(0x80)
		if i == 0 {
			want = 1
		}
		if code := w1.subscribe(t, uint16(i+1), f, 1); code != want {
			t.Fatalf("subscribe %q: SUBACK %#x, want %#x", f, code, want)
		}
	}

	// Queue QoS 1 messages that w1 reads and never acknowledges, next to
	// traffic on the victim's topics.
	pub := e.pahoConnect(t, e.publisher, publisherID)
	inflight := []string{"inflight 1", "inflight 2", "inflight 3"}
	for _, p := range inflight {
		pub.publish(t, ns+"in", p, false)
		pub.publish(t, foreignNS+"out", "foreign "+p, false)
	}
	awaitUnacked(t, w1, inflight[len(inflight)-1])

	forged := persistent
	forged.WillTopic, forged.WillPayload = foreignNS+"status", "forged will"
	e.expectRefused(t, e.attempt(t, e.tlsConfig(&cert), forged.Packet()), atConnect, "will_topic")
	pub.publish(t, ns+"in", "inflight 4", false)
	awaitUnacked(t, w1, "inflight 4") // still w1's session: the refusal took nothing over
	inflight = append(inflight, "inflight 4")

	w2 := e.connectPersistent(t, cert, persistent)
	pub.publish(t, ns+"in", "after takeover", false)
	collect(t, w2, ns, append(slices.Clone(inflight), "after takeover")...)
	expectClosedMQTT(t, w1, "the first connection after the takeover")

	// Messages queued while the device is offline.
	_ = w2.send(mqttwire.Disconnect)
	w2.Close()
	pub.publish(t, ns+"in", "queued offline", false)
	pub.publish(t, foreignNS+"out", "foreign queued offline", false)
	w3 := e.connectPersistent(t, cert, persistent)
	pub.publish(t, ns+"in", "after reconnect", false)
	collect(t, w3, ns, "queued offline", "after reconnect")
	_ = w3.send(mqttwire.Disconnect)

	pub.publish(t, ns+"in", "observer sentinel", false)
	var will bool
	for _, m := range obs.awaitPayload(t, "observer sentinel") {
		switch {
		case m.payload == "forged will" || m.topic == foreignNS+"status":
			t.Fatalf("a Will reached %q: %q", m.topic, m.payload)
		case m.payload == withWill.WillPayload:
			if m.topic != withWill.WillTopic {
				t.Fatalf("the Will went to %q, want %q", m.topic, withWill.WillTopic)
			}
			will = true
		}
	}
	if !will {
		// The Will of a taken-over connection is published from its
		// goroutine; wait for it if it has not come yet.
		got := obs.awaitPayload(t, withWill.WillPayload)
		if m := got[len(got)-1]; m.topic != withWill.WillTopic {
			t.Fatalf("the Will went to %q, want %q", m.topic, withWill.WillTopic)
		}
	}
}

// connectPersistent resumes a persistent session, which must be present.
func (e *attackEnv) connectPersistent(t *testing.T, cert tls.Certificate, o mqttwire.ConnectOptions) *mqttConn {
	t.Helper()
	c, err := dialMQTT(e.addr, e.tlsConfig(&cert))
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.send(o.Packet()); err != nil {
		t.Fatal(err)
	}
	code, present, err := c.connack()
	if err != nil || code != 0 || !present {
		t.Fatalf("persistent reconnect of %s: CONNACK %d, session present %v, error %v", o.ClientID, code, present, err)
	}
	return c
}

// expectClosedMQTT reads until the server closes c; a read that times out
// means the server kept it open.
func expectClosedMQTT(t *testing.T, c *mqttConn, what string) {
	t.Helper()
	for {
		_, err := c.next()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still open after %s", what, attackWait)
		}
		return
	}
}

// awaitUnacked reads until payload arrives without acknowledging
// anything, so the messages stay in flight.
func awaitUnacked(t *testing.T, c *mqttConn, payload string) {
	t.Helper()
	_, err := c.await(payload, func(p mqttwire.Packet) bool {
		m, _ := decodePublish(p)
		return p.Type == mqttwire.PUBLISH && m.payload == payload
	})
	if err != nil {
		t.Fatal(err)
	}
}

// collect reads (and acknowledges) until every payload has arrived, and
// fails if anything arrived outside the namespace ns.
func collect(t *testing.T, c *mqttConn, ns string, payloads ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, p := range payloads {
		missing[p] = true
	}
	for len(missing) > 0 {
		p, err := c.next()
		if err != nil {
			t.Fatalf("still missing %v: %v; received %+v", missing, err, c.published)
		}
		if p.Type != mqttwire.PUBLISH {
			continue
		}
		m, _ := decodePublish(p)
		if !strings.HasPrefix(m.topic, ns) {
			t.Fatalf("received %q on %q, outside %s#", m.payload, m.topic, ns)
		}
		if m.qos > 0 {
			_ = c.send(mqttwire.Puback(m.id))
		}
		delete(missing, m.payload)
	}
}

// resumedRevoked: crypto/tls does not verify the client certificate again
// when it resumes a session, so the broker's CONNECT check is all that
// stands between a revoked device and the broker.
func resumedRevoked(t *testing.T, e *attackEnv) {
	const id = "atk-resume"
	cert := e.device(t, id)
	conf := e.tlsConfig(&cert)
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	// Reading the CONNACK also reads the session ticket sent before it.
	if o := e.attempt(t, conf, session(id).Packet()); o.connack != 0 {
		t.Fatalf("first connection: CONNACK %d, error %v", o.connack, o.err)
	}
	e.forTest(t).MustCtl("device", "revoke", id, "--reason", "attack matrix: resumption")
	o := e.attempt(t, conf, session(id).Packet())
	if !o.resumed {
		t.Fatalf("the second handshake did not resume the TLS session: the case tests nothing")
	}
	e.expectRefused(t, o, atConnect, "cert_revoked|device_revoked")
}
