package broker

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// TestAdmitted: a registered device publishes in its namespace; another
// device holding a subscribe grant on that topic receives it.
func TestAdmitted(t *testing.T) {
	f := newFixture(t, nil)
	certA := f.device("sensor-a", nil)
	certB := f.device("sensor-b", func(d *store.Device) { d.Subscribe = []string{"devices/sensor-a/telemetry"} })

	a := f.mustConnect(&certA, "sensor-a")
	b := f.mustConnect(&certB, "sensor-b")
	if code := f.subscribe(b, "devices/sensor-a/telemetry"); code != 1 {
		t.Fatalf("granted subscription: SUBACK %#x, want 1", code)
	}
	f.publish(a, "devices/sensor-a/telemetry", "21.5", false)
	f.receive(b, "devices/sensor-a/telemetry", "21.5")
	f.roundTrip(a, "sensor-a")
	f.logs.await(t, "device connected", "device=sensor-a")
	a.Disconnect(250)
	f.logs.await(t, `msg="session ended"`, "device=sensor-a", "reason=client")
}

// TestRefused tries one bad credential per case while a legitimate device
// is connected, and checks that the legitimate device is still served
// afterwards, on the TCP listener and on the WSS one (the same table: the
// checks are one code path).
func TestRefused(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(map[bool]string{false: "mqtts", true: "wss"}[wss], func(t *testing.T) { testRefused(t, wss) })
	}
}

func testRefused(t *testing.T, wss bool) {
	f := newFixture(t, withWSS)
	f.wss = wss
	legitCert := f.device("legit", nil)
	legit := f.mustConnect(&legitCert, "legit")
	if got, want := f.listenerOf("legit"), f.wantListener(); got != want {
		t.Fatalf("legit came in on listener %q, want %q", got, want)
	}

	// registered creates a device and records a crafted certificate for it.
	registered := func(f *fixture, id string, adjust func(*x509.Certificate)) tls.Certificate {
		if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: id}, actor); err != nil {
			f.t.Fatal(err)
		}
		c := f.craft(id, adjust)
		f.register(c.Leaf)
		return c
	}
	foreign, foreignKey := foreignCA(t)

	tests := []struct {
		name     string
		cert     func(f *fixture) *tls.Certificate
		clientID string
		// Exactly one of these: the CONNACK reason logged, or a refusal
		// during the TLS handshake.
		reason    string
		handshake bool
	}{
		{
			name:      "error/no client certificate",
			cert:      func(*fixture) *tls.Certificate { return nil },
			clientID:  "legit",
			handshake: true,
		},
		{
			name: "error/foreign CA claiming a registered identity",
			cert: func(f *fixture) *tls.Certificate {
				c := f.craftWith(foreign, foreignKey, "legit", nil)
				return &c
			},
			clientID:  "legit",
			handshake: true,
		},
		{
			name: "error/expired",
			cert: func(f *fixture) *tls.Certificate {
				c := registered(f, "expired-1", func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
				})
				return &c
			},
			clientID:  "expired-1",
			handshake: true,
		},
		{
			name: "error/not yet valid",
			cert: func(f *fixture) *tls.Certificate {
				c := registered(f, "future-1", func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
				})
				return &c
			},
			clientID:  "future-1",
			handshake: true,
		},
		{
			name: "error/EKU serverAuth only",
			cert: func(f *fixture) *tls.Certificate {
				c := registered(f, "server-eku", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
				return &c
			},
			clientID:  "server-eku",
			handshake: true,
		},
		{
			name: "error/no EKU",
			cert: func(f *fixture) *tls.Certificate {
				c := registered(f, "no-eku", func(c *x509.Certificate) { c.ExtKeyUsage = nil })
				return &c
			},
			clientID: "no-eku",
			reason:   reasonEKU,
		},
		{
			name: "error/CA leaf",
			cert: func(f *fixture) *tls.Certificate {
				c := registered(f, "ca-leaf", func(c *x509.Certificate) { c.IsCA = true })
				return &c
			},
			clientID: "ca-leaf",
			reason:   reasonCALeaf,
		},
		{
			name: "error/no identity URI",
			cert: func(f *fixture) *tls.Certificate {
				c := f.craft("no-uri", func(c *x509.Certificate) { c.URIs = nil })
				return &c
			},
			clientID: "no-uri",
			reason:   reasonNoIdentity,
		},
		{
			name: "error/device not registered",
			cert: func(f *fixture) *tls.Certificate {
				c := f.craft("ghost", nil)
				return &c
			},
			clientID: "ghost",
			reason:   reasonUnknownDevice,
		},
		{
			name: "error/serial unknown",
			cert: func(f *fixture) *tls.Certificate {
				if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: "unrecorded"}, actor); err != nil {
					f.t.Fatal(err)
				}
				c := f.craft("unrecorded", nil)
				return &c
			},
			clientID: "unrecorded",
			reason:   reasonUnknownCert,
		},
		{
			name: "error/serial of another device",
			cert: func(f *fixture) *tls.Certificate {
				// legit's serial under another registered identity.
				if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: "borrower"}, actor); err != nil {
					f.t.Fatal(err)
				}
				c := f.craft("borrower", func(c *x509.Certificate) { c.SerialNumber = legitCert.Leaf.SerialNumber })
				return &c
			},
			clientID: "borrower",
			reason:   reasonUnknownCert,
		},
		{
			name: "error/same serial, other certificate",
			cert: func(f *fixture) *tls.Certificate {
				c := f.craft("legit", func(c *x509.Certificate) { c.SerialNumber = legitCert.Leaf.SerialNumber })
				return &c
			},
			clientID: "legit",
			reason:   reasonCertMismatch,
		},
		{
			name: "error/certificate revoked",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("revoked-cert", nil)
				if _, err := f.db.RevokeCertificate(t.Context(), c.Leaf.SerialNumber.Text(16), "lost", actor); err != nil {
					f.t.Fatal(err)
				}
				return &c
			},
			clientID: "revoked-cert",
			reason:   reasonCertRevoked,
		},
		{
			name: "error/device suspended",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("suspended-1", nil)
				if _, err := f.db.SetDeviceStatus(t.Context(), "suspended-1", store.DeviceSuspended, "maintenance", actor); err != nil {
					f.t.Fatal(err)
				}
				return &c
			},
			clientID: "suspended-1",
			reason:   reasonDeviceSuspended,
		},
		{
			name: "error/device revoked",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("revoked-dev", nil)
				if _, err := f.db.SetDeviceStatus(t.Context(), "revoked-dev", store.DeviceRevoked, "stolen", actor); err != nil {
					f.t.Fatal(err)
				}
				return &c
			},
			clientID: "revoked-dev",
			// Revoking a device revokes its certificates too, and the
			// certificate is checked first.
			reason: reasonCertRevoked,
		},
		{
			name: "error/client ID of another connected device",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("impostor", nil)
				return &c
			},
			clientID: "legit",
			reason:   reasonClientIDMismatch,
		},
		{
			name: "error/empty client ID",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("anonymous", nil)
				return &c
			},
			clientID: "",
			reason:   reasonClientIDMismatch,
		},
		{
			name: "error/client ID differs in case",
			cert: func(f *fixture) *tls.Certificate {
				c := f.device("casey", nil)
				return &c
			},
			clientID: "Casey",
			reason:   reasonClientIDMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			c, tok := f.connect(tt.cert(f), tt.clientID, nil)
			err := tok.Error()
			if err == nil {
				t.Fatalf("connection admitted (client ID %q)", tt.clientID)
			}
			if tt.handshake {
				if tok.ReturnCode() == 5 || !strings.Contains(err.Error(), "tls:") {
					t.Fatalf("want a TLS handshake refusal, got %v (return code %d)", err, tok.ReturnCode())
				}
				f.logs.await(t, "tls handshake failed")
			} else {
				if rc := tok.ReturnCode(); rc != 5 {
					t.Fatalf("CONNACK return code %d (%v), want 5 (not authorized)", rc, err)
				}
				f.logs.await(t, "connect refused", "reason="+tt.reason, "client_id="+tt.clientID)
			}
			if c.IsConnectionOpen() {
				t.Fatal("refused client reports an open connection")
			}
			// The legitimate device never noticed.
			select {
			case err := <-legit.lost:
				t.Fatalf("legitimate device lost its connection: %v", err)
			default:
			}
			f.roundTrip(legit, "legit")
		})
	}
}
