package broker

import (
	"crypto/tls"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/npmkit"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TestMQTTJSOverWSS: MQTT.js (3.1.1 and 5) connects over wss:// with a
// client certificate, round-trips a message, and sees its connection
// closed when its certificate is revoked.
func TestMQTTJSOverWSS(t *testing.T) {
	f := newFixture(t, withWSS)
	for _, version := range []int{4, 5} {
		t.Run(map[int]string{4: "ok/MQTT 3.1.1", 5: "ok/MQTT 5"}[version], func(t *testing.T) {
			t.Parallel()
			f := f.sub(t)
			id := map[int]string{4: "js-v4", 5: "js-v5"}[version]
			cert := f.device(id, nil)
			topic := "devices/" + id + "/echo"
			js := f.startMQTTJS(&cert, npmkit.MQTTOptions{ClientID: id, ProtocolVersion: version, Subscribe: topic,
				Publish: &npmkit.MQTTMessage{Topic: topic, Payload: "hello over wss"}})
			js.Await(t, wait, "connect", "close", "error")
			if l := js.Await(t, wait, "suback", "close"); len(l.QoS) != 1 || l.QoS[0] != 1 {
				t.Fatalf("SUBACK %v, want [1]", l.QoS)
			}
			if l := js.Await(t, wait, "message", "close"); l.Topic != topic || l.Payload != "hello over wss" {
				t.Fatalf("message %+v", l)
			}
			if got := f.listenerOf(id); got != wssListenerID {
				t.Fatalf("%s came in on %q", id, got)
			}

			if _, err := f.db.RevokeCertificate(t.Context(), ca.SerialHex(cert.Leaf), "lost", actor); err != nil {
				t.Fatal(err)
			}
			// MQTT 5: the broker sends DISCONNECT 0x87 first
			// (TestWSSRevocationDisconnectV5), but MQTT.js may report
			// the socket's close before it has parsed that packet.
			for _, l := range js.Until(t, wait, "close") {
				if l.Event == "disconnect" && l.ReasonCode != 0x87 {
					t.Fatalf("DISCONNECT reason %#x, want 0x87", l.ReasonCode)
				}
			}
			f.logs.await(t, "device disconnected", "device="+id, "reason="+reasonCertRevoked)
		})
	}
}

// TestMQTTJSRefusedOverWSS: the TCP listener's refusals, with MQTT.js over
// wss://: no certificate, a foreign CA, a revoked certificate, a wrong
// client ID. MQTT.js never sees a CONNACK accepting it.
func TestMQTTJSRefusedOverWSS(t *testing.T) {
	f := newFixture(t, withWSS)
	legit := f.device("legit", nil)
	revoked := f.device("revoked", nil)
	if _, err := f.db.RevokeCertificate(t.Context(), ca.SerialHex(revoked.Leaf), "lost", actor); err != nil {
		t.Fatal(err)
	}
	foreign := pki.Foreign(t).Device(t, "legit", nil)

	for _, tt := range []struct {
		name, clientID string
		cert           *tls.Certificate
		// the broker's log line: a refused handshake or a refused CONNECT
		log []string
	}{
		{"error/no client certificate", "legit", nil, []string{"tls handshake failed", "didn't provide a certificate"}},
		{"error/foreign CA", "legit", &foreign, []string{"tls handshake failed", "reason=bad_certificate"}},
		{"error/revoked certificate", "revoked", &revoked, []string{"connect refused", "reason=" + reasonCertRevoked}},
		{"error/wrong client ID", "someone-else", &legit, []string{"connect refused", "reason=" + reasonClientIDMismatch, "client_id=someone-else"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // node starts slowly; the log lines are each case's own
			f := f.sub(t)
			before := f.logs.Count(tt.log...)
			js := f.startMQTTJS(tt.cert, npmkit.MQTTOptions{ClientID: tt.clientID})
			js.Await(t, wait, "error", "connect")
			js.Await(t, wait, "close", "connect")
			f.logs.AwaitCount(t, wait, before+1, tt.log...)
		})
	}
}
