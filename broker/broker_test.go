package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

func TestNewValidates(t *testing.T) {
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
	pool := x509.NewCertPool()
	valid := func() Config { return Config{GetCertificate: getCert, ClientCAs: pool} }
	db, err := store.Open(filepath.Join(t.TempDir(), "r.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	tests := []struct {
		name   string
		adjust func(*Config)
		reg    Registry
		ok     bool
	}{
		{name: "ok/defaults", adjust: func(*Config) {}, reg: db, ok: true},
		{name: "error/no GetCertificate", adjust: func(c *Config) { c.GetCertificate = nil }, reg: db},
		{name: "error/no ClientCAs", adjust: func(c *Config) { c.ClientCAs = nil }, reg: db},
		{name: "error/no registry", adjust: func(*Config) {}, reg: nil},
		{name: "error/negative handshake timeout", adjust: func(c *Config) { c.HandshakeTimeout = -time.Second }, reg: db},
		{name: "error/tiny packet size", adjust: func(c *Config) { c.MaxPacketSize = 16 }, reg: db},
		{name: "error/negative max pending", adjust: func(c *Config) { c.MaxPending = -1 }, reg: db},
		{name: "error/negative writes pending", adjust: func(c *Config) { c.ClientWritesPending = -1 }, reg: db},
		{name: "error/negative read buffer", adjust: func(c *Config) { c.ClientReadBufferSize = -1 }, reg: db},
		{name: "error/negative write buffer", adjust: func(c *Config) { c.ClientWriteBufferSize = -1 }, reg: db},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.adjust(&cfg)
			b, err := New(cfg, tt.reg)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if b.cfg.Addr != DefaultAddr || b.cfg.MaxPacketSize != DefaultMaxPacketSize ||
					b.cfg.HandshakeTimeout != DefaultHandshakeTimeout || b.cfg.MaxPending != DefaultMaxPending ||
					b.cfg.ClientWritesPending != DefaultClientWritesPending {
					t.Fatalf("defaults not applied: %+v", b.cfg)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// TestMochiOptions: the limits reach mochi.
func TestMochiOptions(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxPacketSize = 4096
		c.ClientWritesPending = 64
		c.ClientReadBufferSize = 512
		c.ClientWriteBufferSize = 768
	})
	o := f.b.server.Options
	switch {
	case o.Capabilities.MaximumPacketSize != 4096,
		o.Capabilities.MaximumClientWritesPending != 64,
		o.ClientNetReadBufferSize != 512,
		o.ClientNetWriteBufferSize != 768,
		o.InlineClient:
		t.Fatalf("mochi options not taken from Config: %+v %+v", o, o.Capabilities)
	}
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.b.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}

	// The port is taken: a second broker on it fails to start.
	other, err := New(Config{Addr: f.b.Addr().String(), GetCertificate: f.b.cfg.GetCertificate, ClientCAs: f.b.cfg.ClientCAs}, f.db)
	if err != nil {
		t.Fatal(err)
	}
	if other.Addr() != nil || other.Connected("x") {
		t.Fatal("unstarted broker reports an address or a client")
	}
	if err := other.Start(context.Background()); !errors.Is(err, ErrListen) {
		t.Fatalf("Start on a taken port: %v, want ErrListen", err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	cert := f.device("closer", nil)
	c := f.mustConnect(&cert, "closer")
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}
	f.awaitLost(c)
	select {
	case <-f.b.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if err := f.b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", f.b.Addr().String(), wait); err == nil {
		t.Fatal("closed broker still accepts connections")
	}
}

// TestContextEndsBroker: the broker stops when Start's context is done.
func TestContextEndsBroker(t *testing.T) {
	f := newFixture(t, nil)
	b, err := New(Config{Addr: "127.0.0.1:0", GetCertificate: f.b.cfg.GetCertificate, ClientCAs: f.b.cfg.ClientCAs}, f.db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-b.Done():
	case <-time.After(wait):
		t.Fatal("broker still running after its context ended")
	}
}

// TestFeedLossStopsBroker: if the registry's change feed ends while the
// broker runs, the broker stops rather than serve without revocation.
func TestFeedLossStopsBroker(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("orphan", nil)
	c := f.mustConnect(&cert, "orphan")
	if err := f.db.Close(); err != nil { // closes every Watch channel
		t.Fatal(err)
	}
	select {
	case <-f.b.Done():
	case <-time.After(wait):
		t.Fatal("broker still running after the change feed closed")
	}
	f.awaitLost(c)
	f.logs.await(t, "level=ERROR", "registry change feed closed")
	f.dbClosed = true
}
