package broker_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/broker"
)

// A backend reads a lifecycle event: the topic names the type and the
// device, the payload is a broker.Event.
func ExampleEvent() {
	topic := "$fleet/events/disconnected/dev-001"
	payload := []byte(`{"type":"disconnected","device":"dev-001","time":"2026-12-06T19:20:02.5Z",
		"broker":"broker-1/686a78eec9f2","transport":"wss","remote":"203.0.113.7:48198","client_id":"dev-001",
		"serial":"29a967367b42db15b","connected_at":"2026-12-06T19:15:24.193Z","reason":"revoked","detail":"cert_revoked"}`)

	typ, device, _ := strings.Cut(strings.TrimPrefix(topic, broker.EventsRoot), "/")
	var e broker.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		panic(err)
	}
	fmt.Println(typ, device, e.Transport, e.Reason, e.Detail, e.Time.Sub(*e.ConnectedAt))
	// Output: disconnected dev-001 wss revoked cert_revoked 4m38.307s
}
