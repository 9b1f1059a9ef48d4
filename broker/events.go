package broker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/store"
)

// Lifecycle events for backends. The broker publishes one JSON Event per
// device connect, disconnect, refused CONNECT and first use of a rotated
// certificate on EventsRoot<type>/<device>. doc.go and README.md give the
// schema; the ACL (acl.go) lets only identities with a subscribe grant
// under EventsRoot read them, and no client can publish there.

// EventsRoot is the reserved topic tree of lifecycle events; an event's
// topic is EventsRoot + type + "/" + device ID.
const EventsRoot = "$fleet/events/"

// Event types: the third topic level and Event.Type.
const (
	EventConnected    = "connected"
	EventDisconnected = "disconnected"
	EventRefused      = "refused"
	EventRotated      = "rotated"
	EventRegistered   = "registered"
)

// EventUnknownDevice is the device level of a refused event whose
// certificate names no device (check no_identity or no_client_cert). A
// device ID starts with a letter or digit, so it cannot collide.
const EventUnknownDevice = "_unknown"

// eventsQoS: events are published at QoS 1, so that a backend subscribed
// at QoS 1 with a persistent session also gets the events of the time it
// was away (within mochi's queue limits); a QoS 0 subscription gets them
// at most once. Events are never retained: they are history, not state.
const eventsQoS = 1

// eventsInlineID is the client ID of the inline client that publishes
// events; a device ID never holds "/".
const eventsInlineID = "fleetgate/events"

// Event is one lifecycle event as published, in JSON. Fields that do not
// apply to a type are left out.
type Event struct {
	Type   string    `json:"type"`   // connected, disconnected, refused, rotated
	Device string    `json:"device"` // the certificate's device ID; "" in a refused event without one
	Time   time.Time `json:"time"`   // when it happened, UTC
	Broker string    `json:"broker"` // the broker process that saw it (host/random)

	// Connection: connected, disconnected, refused.
	Transport string `json:"transport,omitempty"` // "mqtts" (TCP) or "wss"
	Remote    string `json:"remote,omitempty"`    // the client's address
	ClientID  string `json:"client_id,omitempty"` // the MQTT client ID it sent (refused: possibly not the device ID)

	// Certificate: connected, disconnected, refused (when known), rotated.
	Serial      string     `json:"serial,omitempty"`      // lower-case hex
	Fingerprint string     `json:"fingerprint,omitempty"` // SHA-256 of the DER, lower-case hex
	NotAfter    *time.Time `json:"not_after,omitempty"`   // when the session must end at the latest

	ConnectedAt *time.Time `json:"connected_at,omitempty"` // disconnected: when the session began
	Reason      string     `json:"reason,omitempty"`       // disconnected: why (see disconnectReason)
	Detail      string     `json:"detail,omitempty"`       // disconnected: the precise cause, when there is one
	Check       string     `json:"check,omitempty"`        // refused: the check that failed (decide.go's reasons)

	PreviousSerial string `json:"previous_serial,omitempty"` // rotated: the certificate it replaced, now superseded

	// Registered: a device of a foreign (bring-your-own) CA registered
	// itself on its first connect.
	Group     string `json:"group,omitempty"`      // the group its CA's record names
	ForeignCA string `json:"foreign_ca,omitempty"` // the name of that record
}

// events publishes Events through an inline client, which bypasses the
// ACL on publish: nothing else can publish under EventsRoot.
type events struct {
	server *mqtt.Server
	inline *mqtt.Client
	broker string
	log    *slog.Logger
}

func newEvents(server *mqtt.Server, broker string, log *slog.Logger) *events {
	return &events{server: server, inline: server.NewClient(nil, "local", eventsInlineID, true), broker: broker, log: log}
}

// publish stamps and sends e. A failure is logged, never returned: events
// are for backends, and a device's connection does not depend on them.
func (ev *events) publish(e Event) {
	e.Broker = ev.broker
	device := e.Device
	if device == "" {
		device = EventUnknownDevice
	}
	payload, err := json.Marshal(e)
	if err != nil {
		ev.log.Error("lifecycle event not encoded", "type", e.Type, "device", e.Device, "error", err.Error())
		return
	}
	err = ev.server.InjectPacket(ev.inline, packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: eventsQoS},
		// mochi never acknowledges an inline client's packet, but checks
		// that a QoS 1 one has an ID.
		PacketID:  1,
		TopicName: EventsRoot + e.Type + "/" + device,
		Payload:   payload,
	})
	if err != nil {
		ev.log.Warn("lifecycle event not published", "type", e.Type, "device", e.Device, "error", err.Error())
	}
}

// transport names the listener a client came in on.
func transport(cl *mqtt.Client) string {
	if cl.Net.Listener == wssListenerID {
		return "wss"
	}
	return "mqtts"
}

// connection fills the fields every connection event has.
func connection(typ string, cl *mqtt.Client, device, serial string, at time.Time) Event {
	e := Event{Type: typ, Device: device, Time: at.UTC(), Transport: transport(cl), Remote: cl.Net.Remote, ClientID: cl.ID, Serial: serial}
	if cs, ok := cl.Net.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		if leaf, ok := peerLeaf(cs.ConnectionState()); ok {
			e.Fingerprint = fingerprint(leaf)
		}
	}
	return e
}

// connected: a device's session is established (CONNACK sent).
func (ev *events) connected(cl *mqtt.Client, s *session, at time.Time) {
	e := connection(EventConnected, cl, s.deviceID, s.serial, at)
	e.NotAfter = timePtr(s.notAfter)
	ev.publish(e)
}

// disconnected: a connected device's connection ended, for reason and
// detail (disconnectReason).
func (ev *events) disconnected(cl *mqtt.Client, s *session, reason, detail string, at time.Time) {
	e := connection(EventDisconnected, cl, s.deviceID, s.serial, at)
	e.NotAfter = timePtr(s.notAfter)
	e.ConnectedAt = timePtr(s.connectedAt)
	e.Reason, e.Detail = reason, detail
	ev.publish(e)
}

// refused: a CONNECT failed a check. A refused TLS handshake (no
// certificate, a foreign CA) raises no event: nothing proves who it was,
// so anyone could flood the backends with events in a device's name.
func (ev *events) refused(cl *mqtt.Client, pk packets.Packet, a admission, at time.Time) {
	e := connection(EventRefused, cl, a.deviceID, a.serial, at)
	e.ClientID = pk.Connect.ClientIdentifier
	e.Check = a.reason
	ev.publish(e)
}

// rotated: a device used a rotated certificate for the first time, and its
// predecessor was superseded.
func (ev *events) rotated(cert store.Certificate, at time.Time) {
	ev.publish(Event{Type: EventRotated, Device: cert.DeviceID, Time: at.UTC(), Serial: cert.Serial,
		Fingerprint: cert.Fingerprint, NotAfter: timePtr(cert.NotAfter), PreviousSerial: cert.Supersedes})
}

// registered: a device of a foreign CA was registered on its first
// connect (audited as device.register_foreign); its connected event
// follows once the session is up.
func (ev *events) registered(id, group, foreignCA string, leaf *x509.Certificate, at time.Time) {
	ev.publish(Event{Type: EventRegistered, Device: id, Time: at.UTC(), Serial: serialHex(leaf),
		Fingerprint: fingerprint(leaf), NotAfter: timePtr(leaf.NotAfter), Group: group, ForeignCA: foreignCA})
}

// timePtr returns &t in UTC, or nil for the zero time (left out).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
