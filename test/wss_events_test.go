package test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/internal/testkit/npmkit"
)

// wssField reads the WSS URL from the "fleetgate serving" log line.
var wssField = regexp.MustCompile(`wss=(wss://\S+)`)

// TestWSSAndEventsEndToEnd: the server binary with --wss-addr. A backend
// registered with the CLI's subscribe grant on $fleet/events/# reads the
// events with mosquitto_sub in a $share group; a device on MQTT.js over
// wss:// is admitted, then revoked with the CLI, and MQTT.js sees its
// connection close; the backend gets the connected event and the
// disconnected one with reason revoked.
func TestWSSAndEventsEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir(), "--wss-addr", "127.0.0.1:0")
	m := wssField.FindStringSubmatch(s.Logs.Await(t, 30*time.Second, `msg="fleetgate serving"`, "wss=wss://"))
	if m == nil || !strings.HasSuffix(m[1], broker.WSSPath) {
		t.Fatalf("no WSS URL in the serving log line: %v", m)
	}
	url := m[1]

	beCert, beKey := s.Device("backend-1", "--subscribe", broker.EventsRoot+"#")
	be := s.startSub(t, "backend-1", beCert, beKey, "-t", "$share/pool/"+broker.EventsRoot+"#", "-v")
	be.waitFor(t, "SUBACK")

	devCert, devKey := s.Device("web-1")
	topic := "devices/web-1/echo"
	js := npmkit.StartMQTT(t, url, npmkit.MQTTOptions{ClientID: "web-1", CA: s.CAFile("root.crt"), Cert: devCert, Key: devKey,
		Subscribe: topic, Publish: &npmkit.MQTTMessage{Topic: topic, Payload: "over wss"}})
	js.Await(t, 30*time.Second, "connect", "close", "error")
	if l := js.Await(t, 30*time.Second, "message", "close"); l.Payload != "over wss" {
		t.Fatalf("MQTT.js got %+v", l)
	}
	connected := eventOf(t, be.waitFor(t, broker.EventsRoot+"connected/web-1 "))
	if connected.Transport != "wss" || connected.ClientID != "web-1" {
		t.Fatalf("connected event %+v", connected)
	}

	s.MustCtl("device", "revoke", "web-1", "--reason", "stolen")
	js.Await(t, 30*time.Second, "close")
	gone := eventOf(t, be.waitFor(t, broker.EventsRoot+"disconnected/web-1 "))
	if gone.Reason != broker.DisconnectRevoked || gone.Serial != connected.Serial || gone.Transport != "wss" {
		t.Fatalf("disconnected event %+v", gone)
	}
}

// eventOf decodes the payload of a "topic payload" line of mosquitto_sub -v.
func eventOf(t *testing.T, line string) broker.Event {
	t.Helper()
	_, payload, _ := strings.Cut(line, " ")
	var e broker.Event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		t.Fatalf("event line %q: %v", line, err)
	}
	return e
}
