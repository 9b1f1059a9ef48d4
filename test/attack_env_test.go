package test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// attackEnv is one running server as the attack matrix sees it: the
// child process, the device CA's certificate and key (read from the data
// directory, as an attacker who stole nothing could not, so that the
// matrix can sign the certificates the CA itself would never issue), and
// the devices every row may use.
type attackEnv struct {
	s        *server
	addr     string // MQTT listener, 127.0.0.1:port
	roots    *x509.CertPool
	deviceCA *pki.CA

	attacker  tls.Certificate // atk-a: an ordinary registered device
	publisher tls.Certificate // atk-pub: may publish to any topic (grant #)
	observer  tls.Certificate // atk-obs: may subscribe to devices/# (grant)
	victim    tls.Certificate // atk-b: an ordinary device the rows attack
}

// Device IDs shared by the rows.
const (
	attackerID  = "atk-a"
	victimID    = "atk-b" // never connected by the shared setup: rows own it
	publisherID = "atk-pub"
	observerID  = "atk-obs"
)

// newAttackEnv starts a server in a fresh data directory and registers the
// shared devices.
func newAttackEnv(t *testing.T, extra ...string) *attackEnv {
	t.Helper()
	s := startServer(t, t.TempDir(), extra...)
	e := &attackEnv{s: s, addr: s.MQTT}
	e.roots = pki.ReadPool(t, s.CAFile("root.crt"))
	e.deviceCA = pki.LoadCA(t, s.CAFile("device-ca.crt"), s.CAFile("device-ca.key"))
	e.attacker = e.device(t, attackerID)
	e.publisher = e.device(t, publisherID, "--publish", "#")
	e.observer = e.device(t, observerID, "--subscribe", "devices/#")
	e.victim = e.device(t, victimID)
	return e
}

// forTest returns the server handle bound to t, so that its helpers fail
// the subtest that calls them and not the parent.
func (e *attackEnv) forTest(t *testing.T) *server { return e.s.forTest(t) }

// device registers id through the CLI, issues its certificate and loads
// it as a TLS client certificate.
func (e *attackEnv) device(t *testing.T, id string, registerArgs ...string) tls.Certificate {
	t.Helper()
	certFile, keyFile := e.forTest(t).Device(id, registerArgs...)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return pair
}

// tlsConfig is a device's TLS configuration: the server root and the given
// client certificate (none when cert is nil).
func (e *attackEnv) tlsConfig(cert *tls.Certificate) *tls.Config {
	conf := &tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1"}
	if cert != nil {
		// Present it whatever the server asks for: crypto/tls would
		// otherwise withhold a certificate from a CA the server did not
		// list, and an attacker does not hold back.
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return conf
}

// craft signs a device certificate for id with the real device CA key
// after adjust has changed the template. Its serial is random and never
// recorded, so the registry does not know it.
func (e *attackEnv) craft(t *testing.T, id string, adjust func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	return e.deviceCA.Device(t, id, adjust)
}
