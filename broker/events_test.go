package broker

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// eventFields is the documented key set of each event type (README.md,
// "Lifecycle events"). A change here is a change of the schema.
var eventFields = map[string][]string{
	EventConnected:    {"type", "device", "time", "broker", "transport", "remote", "client_id", "serial", "fingerprint", "not_after"},
	EventDisconnected: {"type", "device", "time", "broker", "transport", "remote", "client_id", "serial", "fingerprint", "not_after", "connected_at", "reason"},
	EventRefused:      {"type", "device", "time", "broker", "transport", "remote", "client_id", "serial", "fingerprint", "check"},
	EventRotated:      {"type", "device", "time", "broker", "serial", "fingerprint", "not_after", "previous_serial"},
	EventRegistered:   {"type", "device", "time", "broker", "serial", "fingerprint", "not_after", "group", "foreign_ca"},
}

// awaitEvent waits for the next event on EventsRoot<typ>/<device> that c
// receives, skipping other events, and checks that its JSON holds exactly
// keys and decodes strictly into an Event.
func (f *fixture) awaitEvent(c *client, typ, device string, keys []string) Event {
	f.t.Helper()
	topic := EventsRoot + typ + "/" + device
	deadline := time.After(wait)
	for {
		select {
		case m := <-c.messages:
			if m.Topic() != topic {
				f.t.Logf("skipping event on %s", m.Topic())
				continue
			}
			var raw map[string]any
			if err := json.Unmarshal(m.Payload(), &raw); err != nil {
				f.t.Fatalf("event on %s is not JSON: %v: %s", topic, err, m.Payload())
			}
			if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
				f.t.Fatalf("event on %s has keys %v, want %v: %s", topic, got, slices.Sorted(slices.Values(keys)), m.Payload())
			}
			dec := json.NewDecoder(bytes.NewReader(m.Payload()))
			dec.DisallowUnknownFields()
			var e Event
			if err := dec.Decode(&e); err != nil {
				f.t.Fatalf("event on %s: %v", topic, err)
			}
			return e
		case err := <-c.lost:
			f.t.Fatalf("backend lost its connection waiting for %s: %v", topic, err)
		case <-deadline:
			f.t.Fatalf("no event on %s within %s", topic, wait)
		}
	}
}

// backend connects a device granted the whole events tree and subscribes
// it to filter.
func (f *fixture) backend(id, filter string) *client {
	f.t.Helper()
	cert := f.device(id, func(d *store.Device) { d.Subscribe = []string{EventsRoot + "#"} })
	c := f.mustConnect(&cert, id)
	if code := f.subscribe(c, filter); code != 1 {
		f.t.Fatalf("backend %s: subscribe %q: SUBACK %#x, want 1", id, filter, code)
	}
	return c
}

// TestEventsEveryField drives each event type and checks every field of
// each: connected and disconnected (client, revoked) over both listeners,
// refused with and without an identity, and rotated.
func TestEventsEveryField(t *testing.T) {
	f := newFixture(t, withWSS)
	be := f.backend("backend-1", EventsRoot+"#")
	owner := f.b.hook.owner
	start := time.Now().Add(-time.Second)

	// common checks the fields every event has.
	common := func(e Event, typ, device string) {
		t.Helper()
		if e.Type != typ || e.Device != device || e.Broker != owner || e.Time.Before(start) || e.Time.After(time.Now()) || e.Time.Location() != time.UTC {
			t.Fatalf("%s event: type %q device %q broker %q time %v; want %q %q %q, now, UTC", typ, e.Type, e.Device, e.Broker, e.Time, typ, device, owner)
		}
	}
	// certificate checks serial, fingerprint and not_after against cert.
	certificate := func(e Event, leafSerial, leafFP string, notAfter time.Time) {
		t.Helper()
		if e.Serial != leafSerial || e.Fingerprint != leafFP || (e.NotAfter != nil && !e.NotAfter.Equal(notAfter)) {
			t.Fatalf("%s event: serial %q fingerprint %q not_after %v; want %q %q %v", e.Type, e.Serial, e.Fingerprint, e.NotAfter, leafSerial, leafFP, notAfter)
		}
	}

	for _, wss := range []bool{false, true} {
		f.wss = wss
		transport := map[bool]string{false: "mqtts", true: "wss"}[wss]
		id := "sensor-" + transport
		cert := f.device(id, nil)
		serial, fp := ca.SerialHex(cert.Leaf), ca.Fingerprint(cert.Leaf)
		dev := f.mustConnect(&cert, id)

		e := f.awaitEvent(be, EventConnected, id, eventFields[EventConnected])
		common(e, EventConnected, id)
		certificate(e, serial, fp, cert.Leaf.NotAfter)
		if e.Transport != transport || e.ClientID != id || e.Remote == "" || e.NotAfter == nil {
			t.Fatalf("connected: transport %q client_id %q remote %q not_after %v", e.Transport, e.ClientID, e.Remote, e.NotAfter)
		}
		remote := e.Remote

		dev.Disconnect(250)
		e = f.awaitEvent(be, EventDisconnected, id, eventFields[EventDisconnected])
		common(e, EventDisconnected, id)
		certificate(e, serial, fp, cert.Leaf.NotAfter)
		if e.Reason != DisconnectClient || e.Detail != "" || e.Transport != transport || e.Remote != remote || e.ConnectedAt == nil || e.ConnectedAt.After(e.Time) {
			t.Fatalf("disconnected: %+v; want reason client from %s", e, remote)
		}

		// Revocation drops the session: reason revoked, detail the cause.
		dev = f.mustConnect(&cert, id)
		f.awaitEvent(be, EventConnected, id, eventFields[EventConnected])
		if _, err := f.db.RevokeCertificate(t.Context(), serial, "lost", actor); err != nil {
			t.Fatal(err)
		}
		f.awaitLost(dev)
		e = f.awaitEvent(be, EventDisconnected, id, append(slices.Clone(eventFields[EventDisconnected]), "detail"))
		if e.Reason != DisconnectRevoked || e.Detail != reasonCertRevoked || e.Transport != transport {
			t.Fatalf("disconnected after revocation: reason %q detail %q transport %q", e.Reason, e.Detail, e.Transport)
		}

		// Refused: the check that failed, and the client ID it sent.
		other := f.device("other-"+transport, nil)
		if _, tok := f.connect(&other, "not-me", nil); tok.Error() == nil {
			t.Fatal("wrong client ID admitted")
		}
		e = f.awaitEvent(be, EventRefused, "other-"+transport, eventFields[EventRefused])
		common(e, EventRefused, "other-"+transport)
		if e.Check != reasonClientIDMismatch || e.ClientID != "not-me" || e.Transport != transport || e.NotAfter != nil {
			t.Fatalf("refused: %+v", e)
		}
		certificate(e, ca.SerialHex(other.Leaf), ca.Fingerprint(other.Leaf), time.Time{})
	}
	f.wss = false

	// Refused without an identity: device "" on EventUnknownDevice.
	noURI := f.craft("no-uri", func(c *x509.Certificate) { c.URIs = nil })
	if _, tok := f.connect(&noURI, "no-uri", nil); tok.Error() == nil {
		t.Fatal("certificate without identity admitted")
	}
	e := f.awaitEvent(be, EventRefused, EventUnknownDevice, []string{"type", "device", "time", "broker", "transport", "remote", "client_id", "serial", "fingerprint", "check"})
	common(e, EventRefused, "")
	if e.Check != reasonNoIdentity || e.ClientID != "no-uri" || e.Fingerprint != ca.Fingerprint(noURI.Leaf) {
		t.Fatalf("refused without identity: %+v", e)
	}

	// Rotated: the first CONNECT with the new certificate supersedes the
	// old one.
	old := f.device("rotor", nil)
	oldSerial := ca.SerialHex(old.Leaf)
	rotated := f.issueAttested("rotor", store.AttestOperator, oldSerial)
	f.mustConnect(&rotated, "rotor")
	e = f.awaitEvent(be, EventRotated, "rotor", eventFields[EventRotated])
	common(e, EventRotated, "rotor")
	certificate(e, ca.SerialHex(rotated.Leaf), ca.Fingerprint(rotated.Leaf), rotated.Leaf.NotAfter)
	if e.PreviousSerial != oldSerial || e.NotAfter == nil {
		t.Fatalf("rotated: previous_serial %q, want %q; not_after %v", e.PreviousSerial, oldSerial, e.NotAfter)
	}
}

// mustJSON decodes an event payload or fails the test.
func mustJSON(t *testing.T, payload []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(payload, v); err != nil {
		t.Fatalf("%v: %s", err, payload)
	}
}
