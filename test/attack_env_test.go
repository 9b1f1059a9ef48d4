package test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	deviceCA *x509.Certificate
	caKey    crypto.Signer

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
	e.roots = x509.NewCertPool()
	e.roots.AddCert(readPEMCert(t, s.CAFile("root.crt")))
	e.deviceCA = readPEMCert(t, s.CAFile("device-ca.crt"))
	e.caKey = readPKCS8(t, s.CAFile("device-ca.key"))
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
	return craftCert(t, e.deviceCA, e.caKey, id, adjust)
}

// craftCert signs a client certificate naming device id with signer (self
// signed when parent is nil).
func craftCert(t *testing.T, parent *x509.Certificate, signer crypto.Signer, id string, adjust func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	key := newECKey(t)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: id},
		URIs:         []*url.URL{{Scheme: "urn", Opaque: "fleetgate:device:" + id}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if adjust != nil {
		adjust(tmpl)
	}
	if tmpl.IsCA {
		tmpl.BasicConstraintsValid = true
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// foreignCA is a self-signed CA the server has never heard of.
func foreignCA(t *testing.T) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "foreign device CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// readPEMCert loads the first certificate of a PEM file.
func readPEMCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	block := readPEMBlock(t, path)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

// readPKCS8 loads a PKCS#8 PEM private key, the form the CA writes.
func readPKCS8(t *testing.T, path string) crypto.Signer {
	t.Helper()
	block := readPEMBlock(t, path)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("%s: %T is not a signer", path, key)
	}
	return signer
}

func readPEMBlock(t testing.TB, path string) *pem.Block {
	t.Helper()
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return block
}
