package broker

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// wait is the generous bound for anything a test awaits: long enough for
// a loaded machine, reached only when something is broken.
const wait = 30 * time.Second

var actor = store.Actor{Name: "test"}

// fixture is a real registry, a real CA and a started broker.
type fixture struct {
	t     *testing.T
	db    *store.DB
	ca    *ca.CA
	caKey crypto.Signer // the device CA key, for crafting bad certificates
	caDir string        // the CA's files (root.crt for clients that read files)
	b     *Broker
	logs  *logSink
	port  string
	// wssPort is the WSS listener's port when the broker has one; wss
	// makes the paho helpers dial it (wss://) instead of the TCP one.
	wssPort string
	wss     bool
	// dbClosed: the test closed the registry itself.
	dbClosed bool
}

// newFixture starts a broker on 127.0.0.1:0; adjust may change its Config.
func newFixture(t *testing.T, adjust func(*Config)) *fixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "r.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	authority, _, err := ca.Bootstrap(caDir, ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, ca: authority, caDir: caDir, caKey: pki.ReadKey(t, filepath.Join(caDir, ca.DeviceCAKeyFile)), logs: newLogSink()}
	cfg := Config{
		Addr:           "127.0.0.1:0",
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return authority.ServerCertificate(), nil },
		ClientCAs:      authority.DevicePool(),
		Logger:         slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	b, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.b = b
	f.port = portOf(t, b)
	if a := b.WSSAddr(); a != nil {
		_, f.wssPort, _ = net.SplitHostPort(a.String())
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if !f.dbClosed {
			if err := db.Check(); err != nil {
				t.Error(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", f.logs.String())
		}
	})
	return f
}

// device registers a device (adjust may set its grants) and issues it a
// certificate through the real CA.
func (f *fixture) device(id string, adjust func(*store.Device)) tls.Certificate {
	f.t.Helper()
	d := store.Device{ID: id}
	if adjust != nil {
		adjust(&d)
	}
	if _, err := f.db.CreateDevice(f.t.Context(), d, actor); err != nil {
		f.t.Fatal(err)
	}
	return f.issue(id, 0)
}

// issue gives a registered device a new certificate from the real CA.
func (f *fixture) issue(id string, lifetime time.Duration) tls.Certificate {
	f.t.Helper()
	key := pki.Key(f.t)
	csr := pki.CSR(f.t, key, id)
	serial, err := f.db.AllocateSerial(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	cert, err := f.ca.IssueDevice(csr, id, serial, lifetime)
	if err != nil {
		f.t.Fatal(err)
	}
	f.register(cert)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// register records a certificate in the registry as issued to the device
// its identity names.
func (f *fixture) register(cert *x509.Certificate) {
	f.t.Helper()
	id, err := identity.FromCertificate(cert)
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.db.AddCertificate(f.t.Context(), store.Certificate{
		Serial:      ca.SerialHex(cert),
		Fingerprint: ca.Fingerprint(cert),
		DeviceID:    id,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Attestation: store.AttestOperator,
		DER:         cert.Raw,
	}, actor)
	if err != nil {
		f.t.Fatal(err)
	}
}

// tlsConfig is what a device uses: its certificate (if any) and the root.
func (f *fixture) tlsConfig(cert *tls.Certificate) *tls.Config {
	conf := &tls.Config{RootCAs: f.ca.RootPool(), ServerName: "127.0.0.1"}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return conf
}

// portOf returns the port a started broker listens on.
func portOf(t *testing.T, b *Broker) string {
	t.Helper()
	_, port, err := net.SplitHostPort(b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// sub returns the fixture for use inside subtest t, so that its helpers
// fail the subtest rather than the parent.
func (f *fixture) sub(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// serveOn replaces the fixture's broker by one with the same settings over
// reg (the real registry wrapped by a test), and returns it.
func (f *fixture) serveOn(reg Registry) *Broker {
	f.t.Helper()
	if err := f.b.Close(); err != nil {
		f.t.Fatal(err)
	}
	b, err := New(f.b.cfg, reg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := b.Start(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = b.Close() })
	f.b, f.port = b, portOf(f.t, b)
	return b
}
