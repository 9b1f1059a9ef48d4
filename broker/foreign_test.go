package broker

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/store"
)

// vendor is a foreign device CA (a secure element vendor's): a root and
// an intermediate that issues the device certificates.
type vendor struct {
	root, inter *pki.CA
}

func newVendor(t *testing.T, name string) vendor {
	t.Helper()
	root := pki.NewCA(t, name+" root")
	return vendor{root: root, inter: root.Intermediate(t, name+" issuing CA")}
}

// chip is a certificate as the secure element holds it: CN the chip's
// serial, no fleetgate identity, issued by issuer, sent with the chain.
func chip(t *testing.T, issuer *pki.CA, cn string, adjust func(*x509.Certificate)) *tls.Certificate {
	t.Helper()
	c := issuer.Device(t, cn, func(c *x509.Certificate) {
		c.URIs = nil
		if adjust != nil {
			adjust(c)
		}
	})
	c.Certificate = append(c.Certificate, issuer.Cert.Raw)
	return &c
}

// registerVendor records v for group and makes the broker read it.
func (f *fixture) registerVendor(v vendor, rec store.ForeignCA) {
	f.t.Helper()
	rec.Certs = [][]byte{v.root.Cert.Raw, v.inter.Cert.Raw}
	if _, err := f.db.PutForeignCA(f.t.Context(), rec, actor); err != nil {
		f.t.Fatal(err)
	}
	if err := f.b.refreshForeign(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
}

// TestForeignCA admits a secure-element fleet whose certificates we did
// not issue: registered on first connect (audited), then a device like any
// other (client ID binding, ACL, revocation that drops the session and
// stays in force), and each refusal with its own reason.
func TestForeignCA(t *testing.T) {
	f := newFixture(t, nil)
	v := newVendor(t, "chip vendor")
	f.registerVendor(v, store.ForeignCA{Name: "chipco", Group: "sensors", IDFrom: store.IDFromCN, FirstConnect: true})
	listed := newVendor(t, "contract manufacturer")
	allowed := chip(t, listed.inter, "cm-1", nil)
	f.registerVendor(listed, store.ForeignCA{Name: "cm", Group: "meters", IDFrom: store.IDFromCN,
		Allowed: []string{fingerprint(allowed.Leaf)}})
	if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: "taken", Group: "other"}, actor); err != nil {
		t.Fatal(err)
	}

	be := f.backend("backend-1", EventsRoot+EventRegistered+"/#")
	se1 := chip(t, v.inter, "se-0001", nil)
	c := f.mustConnect(se1, "se-0001")
	f.roundTrip(c, "se-0001")
	if e := f.awaitEvent(be, EventRegistered, "se-0001", eventFields[EventRegistered]); e.Group != "sensors" ||
		e.ForeignCA != "chipco" || e.Fingerprint != fingerprint(se1.Leaf) || e.Serial != serialHex(se1.Leaf) {
		t.Fatalf("registered event %+v", e)
	}
	d, cert, err := f.db.Lookup(t.Context(), "se-0001", serialHex(se1.Leaf))
	if err != nil || d.Group != "sensors" || cert.Attestation != store.AttestForeign || cert.Fingerprint != fingerprint(se1.Leaf) {
		t.Fatalf("registry after first connect: %+v %+v %v", d, cert, err)
	}
	events, err := f.db.Audit(t.Context(), store.AuditFilter{Target: "se-0001"})
	if err != nil || len(events) != 1 || events[0].Action != "device.register_foreign" {
		t.Fatalf("audit = %+v, %v; want one device.register_foreign", events, err)
	}
	// Reconnecting registers nothing more.
	c.Disconnect(0)
	c = f.mustConnect(se1, "se-0001")
	if events, _ := f.db.Audit(t.Context(), store.AuditFilter{Target: "se-0001"}); len(events) != 1 {
		t.Fatalf("reconnect wrote %d audit events", len(events))
	}
	f.mustConnect(allowed, "cm-1")

	t.Run("ok/revocation drops the session and stays", func(t *testing.T) {
		f := f.sub(t)
		if _, err := f.db.RevokeCertificate(t.Context(), serialHex(se1.Leaf), "key compromise", actor); err != nil {
			t.Fatal(err)
		}
		f.awaitLost(c)
		_, tok := f.connect(se1, "se-0001", nil)
		if tok.Error() == nil || tok.ReturnCode() != 5 {
			t.Fatalf("revoked foreign certificate reconnected: %v", tok.Error())
		}
		f.logs.await(t, "connect refused", "reason="+reasonCertRevoked, "client_id=se-0001")
	})

	rogue := newVendor(t, "rogue")
	// An intermediate of the registered root that the record does not list.
	side := v.root.Intermediate(t, "unlisted intermediate")
	tests := []struct {
		name      string
		cert      *tls.Certificate
		clientID  string
		reason    string // a CONNECT refusal, or
		handshake string // a TLS refusal whose log says this
	}{
		{"error/unregistered CA", chip(t, rogue.inter, "se-0002", nil), "se-0002", "", "unknown authority"},
		{"error/expired", chip(t, v.inter, "se-0003", func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		}), "se-0003", "", "expired"},
		{"error/not on the allow-list", chip(t, listed.inter, "cm-2", nil), "cm-2", reasonForeignNotAllowed, ""},
		{"error/ID of a device of another group", chip(t, v.inter, "taken", nil), "taken", reasonForeignIDTaken, ""},
		{"error/ID bound to another certificate", chip(t, v.inter, "se-0001", nil), "se-0001", reasonForeignIDTaken, ""},
		{"error/intermediate not allowed to issue", chip(t, side, "se-0004", nil), "se-0004", reasonForeignIntermediate, ""},
		{"error/client ID differs", chip(t, v.inter, "se-0005", nil), "se-9999", reasonClientIDMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			// A device presents its certificate whatever CAs the broker
			// names (as OpenSSL does; Go's client would hold it back).
			present := func(o *paho.ClientOptions) {
				o.TLSConfig.Certificates = nil
				o.TLSConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return tt.cert, nil }
			}
			_, tok := f.connect(tt.cert, tt.clientID, present)
			err := tok.Error()
			if err == nil {
				t.Fatal("admitted")
			}
			if tt.handshake != "" {
				if tok.ReturnCode() == 5 {
					t.Fatalf("want a TLS refusal, got CONNACK 5")
				}
				f.logs.await(t, "tls handshake failed", tt.handshake)
				return
			}
			if tok.ReturnCode() != 5 {
				t.Fatalf("CONNACK %d (%v), want 5", tok.ReturnCode(), err)
			}
			f.logs.await(t, "connect refused", "reason="+tt.reason, "client_id="+tt.clientID)
		})
	}
	if _, err := f.db.Device(t.Context(), "cm-2"); err == nil {
		t.Error("a refused foreign device was registered")
	}
}
