package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// TestSetClientCAs: a new device CA pool applies to the next handshake;
// a device connected under the old pool stays connected and served.
func TestSetClientCAs(t *testing.T) {
	f := newFixture(t, nil)
	kept := f.device("kept", nil)
	later := f.device("later", nil)
	c := f.mustConnect(&kept, "kept")

	// A pool holding only another CA, with a device of that CA.
	otherCA, otherKey := foreignCA(t)
	if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: "other"}, actor); err != nil {
		t.Fatal(err)
	}
	other := f.craftWith(otherCA, otherKey, "other", nil)
	f.register(other.Leaf)
	if _, tok := f.connect(&other, "other", nil); tok.Error() == nil {
		t.Fatal("a device of a CA outside the pool was admitted")
	}
	otherPool := x509.NewCertPool()
	otherPool.AddCert(otherCA)
	if err := f.b.SetClientCAs(otherPool); err != nil {
		t.Fatal(err)
	}

	// Go clients send no certificate whose issuer the server did not list
	// as acceptable; this one insists, as OpenSSL clients do, so that the
	// refusal is the server's verification.
	if _, tok := f.connect(&later, "later", func(o *paho.ClientOptions) { o.SetTLSConfig(f.insistentTLS(&later)) }); tok.Error() == nil {
		t.Fatal("a device of the replaced pool was admitted after SetClientCAs")
	}
	f.logs.await(t, "tls handshake failed", "reason=bad_certificate")
	if f.b.Connected("later") {
		t.Fatal("refused device reported connected")
	}
	f.mustConnect(&other, "other")
	f.roundTrip(c, "kept") // the connection from before the swap is untouched

	if err := f.b.SetClientCAs(f.ca.DevicePool()); err != nil {
		t.Fatal(err)
	}
	f.mustConnect(&later, "later")
	f.roundTrip(c, "kept")
}

// TestSetClientCAsResumption: a TLS session resumed after the pool changed
// is judged against the new pool, so a ticket cannot carry a device of a
// retired CA past the handshake.
func TestSetClientCAsResumption(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("resumer", nil)
	cache := tls.NewLRUClientSessionCache(4)
	dial := func() (tls.ConnectionState, error) {
		t.Helper()
		conf := f.tlsConfig(&cert)
		conf.ClientSessionCache = cache
		conn, err := tls.Dial("tcp", f.b.Addr().String(), conf)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(mqttwire.Connect("resumer", 60, true)); err != nil {
			return tls.ConnectionState{}, err
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(conn, ack); err != nil {
			return tls.ConnectionState{}, err
		}
		if ack[0] != 0x20 || ack[3] != 0 {
			t.Fatalf("CONNACK % x, want accepted", ack)
		}
		_, _ = conn.Write(mqttwire.Disconnect)
		return conn.ConnectionState(), nil
	}

	if _, err := dial(); err != nil {
		t.Fatal(err)
	}
	st, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if !st.DidResume {
		t.Fatal("second connection did not resume its TLS session; the test proves nothing")
	}

	otherCA, _ := foreignCA(t)
	otherPool := x509.NewCertPool()
	otherPool.AddCert(otherCA)
	if err := f.b.SetClientCAs(otherPool); err != nil {
		t.Fatal(err)
	}
	if st, err := dial(); err == nil {
		t.Fatalf("connection admitted after the pool dropped its CA (resumed: %v)", st.DidResume)
	}
}

// TestSetHandshakeTimeout: a shorter deadline set while serving closes an
// idle socket accepted afterwards, which the old one-hour deadline would
// have kept.
func TestSetHandshakeTimeout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.HandshakeTimeout = time.Hour })
	if err := f.b.SetHandshakeTimeout(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", f.b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	awaitClosedByServer(t, conn, wait)
	f.logs.await(t, "tls handshake failed", "reason=timeout")
}

// TestSetMaxPending: a lower cap set while serving makes the next idle
// socket evict the oldest one.
func TestSetMaxPending(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxPending = 100
		c.HandshakeTimeout = time.Hour
	})
	if err := f.b.SetMaxPending(1); err != nil {
		t.Fatal(err)
	}
	first, err := net.Dial("tcp", f.b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	awaitPending(t, f, 1)
	second, err := net.Dial("tcp", f.b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	awaitClosedByServer(t, first, wait)
	f.logs.await(t, "oldest pending connection evicted")
}

func TestSettersRefuseBadValues(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name string
		set  func() error
	}{
		{"error/nil pool", func() error { return f.b.SetClientCAs(nil) }},
		{"error/zero handshake timeout", func() error { return f.b.SetHandshakeTimeout(0) }},
		{"error/negative handshake timeout", func() error { return f.b.SetHandshakeTimeout(-time.Second) }},
		{"error/zero max pending", func() error { return f.b.SetMaxPending(0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.set(); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want %v", err, ErrConfig)
			}
		})
	}
	// The refused values changed nothing: a device still gets in.
	cert := f.device("after-refusals", nil)
	f.roundTrip(f.mustConnect(&cert, "after-refusals"), "after-refusals")
}

// insistentTLS is a device TLS config that presents cert whatever CA list
// the server announces.
func (f *fixture) insistentTLS(cert *tls.Certificate) *tls.Config {
	conf := f.tlsConfig(nil)
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	return conf
}
