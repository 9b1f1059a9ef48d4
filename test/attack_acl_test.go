package test

import (
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// aclRows are the attacks of an admitted device on other devices: taking
// a victim's client ID, subscribing outside its namespace, and planting a
// retained message on a foreign topic.
func aclRows() []attackRow {
	rows := []attackRow{
		{name: "error/spoofed client ID, the victim stays connected", run: spoofedClientID},
		{name: "error/retained publish to a foreign topic is not stored", run: foreignRetained},
	}
	victimNS := "devices/" + victimID + "/"
	subs := []struct{ filter, leak string }{
		{"#", victimNS + "telemetry"},
		{"+/x/#", "q/x/y"},
		{victimNS + "#", victimNS + "telemetry"},
		{"$share/g/" + victimNS + "#", victimNS + "telemetry"},
		{"$SYS/#", ""}, // the broker itself publishes there
	}
	for _, s := range subs {
		rows = append(rows, attackRow{name: "error/subscribe " + s.filter, run: func(t *testing.T, e *attackEnv) {
			subscribeDenied(t, e, s.filter, s.leak)
		}})
	}
	return rows
}

// spoofedClientID: atk-a's certificate with atk-b's client ID is refused,
// and atk-b's own session goes on undisturbed.
func spoofedClientID(t *testing.T, e *attackEnv) {
	victim := e.pahoConnect(t, e.victim, victimID)
	if code := victim.subscribe(t, "devices/"+victimID+"/#"); code != 1 {
		t.Fatalf("victim's own subscription: SUBACK %#x", code)
	}
	o := e.attempt(t, e.tlsConfig(&e.attacker), session(victimID).Packet())
	e.expectRefused(t, o, atConnect, "client_id_mismatch")

	topic := "devices/" + victimID + "/alive"
	victim.publish(t, topic, "still connected", false)
	victim.receive(t, topic, "still connected")
	select {
	case err := <-victim.lost:
		t.Fatalf("the victim lost its connection: %v", err)
	default:
	}
}

// subscribeDenied: the SUBACK for filter says 0x80, and a message on leak
// (a topic filter matches) never reaches the attacker. The publisher sends
// leak and then a sentinel into the attacker's namespace over one
// connection, so the sentinel arrives after anything leak would have
// delivered.
func subscribeDenied(t *testing.T, e *attackEnv, filter, leak string) {
	a := e.connectMQTT(t, e.attacker, session(attackerID))
	own := "devices/" + attackerID + "/#"
	if code := a.subscribe(t, 1, own, 1); code != 1 {
		t.Fatalf("subscribe %q: SUBACK %#x, want 1", own, code)
	}
	if code := a.subscribe(t, 2, filter, 1); code != 0x80 {
		t.Fatalf("subscribe %q: SUBACK %#x, want 0x80 (failure)", filter, code)
	}
	pub := e.pahoConnect(t, e.publisher, publisherID)
	if leak != "" {
		pub.publish(t, leak, "leaked "+filter, false)
	}
	sentinel := "sentinel after " + filter
	pub.publish(t, "devices/"+attackerID+"/sentinel", sentinel, false)
	for _, m := range a.awaitPayload(t, sentinel) {
		if !strings.HasPrefix(m.topic, "devices/"+attackerID+"/") {
			t.Fatalf("attacker received %q on %q through a denied subscription", m.payload, m.topic)
		}
	}
}

// foreignRetained: a retained publish to another device's topic is not
// stored. At QoS 1 the broker drops the connection (MQTT 3.1.1 has no
// negative PUBACK); at QoS 0 it drops the message silently. A retained
// message on the device's own topic is stored, which shows the check is
// not vacuous.
func foreignRetained(t *testing.T, e *attackEnv) {
	foreign := "devices/" + victimID + "/cmd"
	own := "devices/" + attackerID + "/cmd"
	a1 := e.connectMQTT(t, e.attacker, session(attackerID))
	if err := a1.send(mqttwire.PublishRetained(foreign, 1, 10, []byte("evil retained qos1"))); err != nil {
		t.Fatal(err)
	}
	expectClosedMQTT(t, a1, "a QoS 1 retained publish to "+foreign)

	a := e.connectMQTT(t, e.attacker, session(attackerID))
	if err := a.send(mqttwire.PublishRetained(foreign, 0, 0, []byte("evil retained qos0"))); err != nil {
		t.Fatal(err)
	}
	// The broker handles one connection's packets in order: once this
	// PUBACK is in, the QoS 0 publish before it has been judged.
	if err := a.send(mqttwire.PublishRetained(own, 1, 11, []byte("own retained"))); err != nil {
		t.Fatal(err)
	}
	if _, err := a.await("PUBACK", func(pk mqttwire.Packet) bool { return pk.Type == mqttwire.PUBACK }); err != nil {
		t.Fatalf("retained publish to %q: %v", own, err)
	}

	// The observer may subscribe to devices/#, so it would see either.
	obs := e.connectMQTT(t, e.observer, session(observerID))
	if code := obs.subscribe(t, 1, "devices/+/cmd", 1); code != 1 {
		t.Fatalf("observer subscribe: SUBACK %#x", code)
	}
	pub := e.pahoConnect(t, e.publisher, publisherID)
	pub.publish(t, foreign, "sentinel", false)
	var sawOwn bool
	for _, m := range obs.awaitPayload(t, "sentinel") {
		switch {
		case strings.HasPrefix(m.payload, "evil"):
			t.Fatalf("retained message on %q from %s was stored and delivered", m.topic, attackerID)
		case m.payload == "own retained":
			sawOwn = m.retain
		}
	}
	if !sawOwn {
		t.Fatalf("the retained message on the attacker's own topic was not delivered: the test proves nothing")
	}
	// An empty retained message clears the attacker's own one.
	if err := a.send(mqttwire.PublishRetained(own, 1, 12, []byte(""))); err != nil {
		t.Fatal(err)
	}
	if _, err := a.await("PUBACK", func(pk mqttwire.Packet) bool { return pk.Type == mqttwire.PUBACK }); err != nil {
		t.Fatal(err)
	}
}
