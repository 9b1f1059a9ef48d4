package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetgate/fleetgate/store"
)

// TestLimitRecords: a limit shows in the records an operator and a backend
// read. A CONNECT over the connect rate gets a refused event with check
// connect_rate and a refusal record saying the limit; a session ended for
// its publish or byte rate gets a disconnected event with reason limit and
// the limit as detail.
func TestLimitRecords(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Limits = Limits{ConnectsPerMinute: 1, PublishRate: 0.001, PublishBurst: 2, ByteRate: 0.001}
	})
	be := f.backend("backend-lim", EventsRoot+"#")

	cert := f.device("loop", nil)
	f.mustConnect(&cert, "loop").Disconnect(250)
	f.awaitEvent(be, EventConnected, "loop", eventFields[EventConnected])
	f.awaitEvent(be, EventDisconnected, "loop", eventFields[EventDisconnected])
	if _, tok := f.connect(&cert, "loop", nil); tok.ReturnCode() != 3 {
		t.Fatalf("second CONNECT in a minute: return code %d, want 3", tok.ReturnCode())
	}
	e := f.awaitEvent(be, EventRefused, "loop", eventFields[EventRefused])
	if e.Check != reasonConnectRate || e.ClientID != "loop" || e.Serial == "" {
		t.Fatalf("refused event %+v; want check %s", e, reasonConnectRate)
	}
	r := awaitRefusal(t, f.db, "loop", reasonConnectRate)
	if r.Detail != "more than 1 connects per minute" || r.Serial != e.Serial || r.ClaimedClientID != "loop" {
		t.Fatalf("refusal record %+v", r)
	}

	withDetail := append(slices.Clone(eventFields[EventDisconnected]), "detail")
	t.Run("publish rate", func(t *testing.T) {
		c := f.device("chatty", nil)
		v := f.connectV5(&c, "chatty")
		for range 3 {
			v.publish("devices/chatty/t", nil)
		}
		if code := v.awaitDisconnect(); code != 0x96 {
			t.Fatalf("DISCONNECT %#x, want 0x96", code)
		}
		f.awaitEvent(be, EventConnected, "chatty", eventFields[EventConnected])
		if e := f.awaitEvent(be, EventDisconnected, "chatty", withDetail); e.Reason != DisconnectLimit || e.Detail != limitPublishRate {
			t.Fatalf("disconnected: reason %q detail %q; want %q %q", e.Reason, e.Detail, DisconnectLimit, limitPublishRate)
		}
	})
	t.Run("byte rate", func(t *testing.T) {
		c := f.device("bulky", nil)
		cl := f.mustConnect(&c, "bulky")
		f.awaitEvent(be, EventConnected, "bulky", eventFields[EventConnected])
		cl.Publish("devices/bulky/t", 0, false, "xy")
		f.awaitLost(cl)
		if e := f.awaitEvent(be, EventDisconnected, "bulky", withDetail); e.Reason != DisconnectLimit || e.Detail != limitByteRate {
			t.Fatalf("disconnected: reason %q detail %q; want %q %q", e.Reason, e.Detail, DisconnectLimit, limitByteRate)
		}
	})
}

// TestLimitSourceNoRecord: a connection over its source address's rate is
// counted and logged but leaves no refusal record or event: no identity
// was proven before it was closed.
func TestLimitSourceNoRecord(t *testing.T) {
	m := NewMetrics(nil)
	f := newFixture(t, func(c *Config) {
		c.Limits.HandshakeRate, c.Limits.HandshakeBurst = 0.001, 2
		c.Metrics = m
	})
	cert := f.device("shy", nil)
	for range 2 { // the burst
		if _, tok := f.connect(&cert, "shy", nil); tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	if _, tok := f.connect(&cert, "shy", nil); tok.Error() == nil {
		t.Fatal("a connection over the source's rate was admitted")
	}
	f.logs.await(t, "connection refused before the handshake", "limit="+limitHandshakeRate)
	if n := testutil.ToFloat64(m.limited.WithLabelValues(limitHandshakeRate, "refuse")); n != 1 {
		t.Fatalf("fleetgate_broker_limit_exceeded_total{limit=%q} = %v, want 1", limitHandshakeRate, n)
	}
	f.b.hook.refusals.flush(t.Context())
	if log, err := f.db.DeviceRefusals(t.Context(), "shy"); err != nil || len(log.Entries) != 0 {
		t.Fatalf("refusal log of shy: %+v, %v; want none", log, err)
	}
}

// awaitRefusal polls the registry's refusal log of id for an entry of
// check (the broker writes its buffer once a second).
func awaitRefusal(t *testing.T, db *store.DB, id, check string) store.Refusal {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		log, err := db.DeviceRefusals(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range log.Entries {
			if r.Check == check {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s refusal of %s in the registry within %s: %+v", check, id, wait, log.Entries)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline, not synchronisation
	}
}
