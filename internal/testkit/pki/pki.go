// Package pki makes certificates for tests: CAs in memory, device client
// certificates shaped like the ones fleetgate issues, and the bad
// variants (expired, not yet valid, wrong EKU, CA leaf, foreign CA) that
// the real CA would never sign. Nothing is written to disk; keys are
// ECDSA P-256 because that is what the project uses and it is fast.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Key returns a fresh P-256 key.
func Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Serial returns a random positive 120-bit serial number, as a CA that
// records nothing would use.
func Serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// Issue signs tmpl for pub with signer under parent (self-signed when
// parent is nil) and returns the parsed certificate. An unset serial
// becomes random, an unset validity runs from an hour ago for a day, and
// a CA template gets valid basic constraints.
func Issue(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = Serial(t)
	}
	if tmpl.NotBefore.IsZero() && tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	if tmpl.IsCA {
		tmpl.BasicConstraintsValid = true
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

// CA is a certificate authority for tests.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := Key(t)
	cert := Issue(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: name},
		IsCA:     true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, key.Public(), key)
	return &CA{Cert: cert, Key: key}
}

// Intermediate makes a CA named name signed by ca, as the issuing CA of a
// chip vendor or manufacturer is.
func (ca *CA) Intermediate(t testing.TB, name string) *CA {
	t.Helper()
	key := Key(t)
	cert := ca.Issue(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: name},
		IsCA:     true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, key.Public())
	return &CA{Cert: cert, Key: key}
}

var foreign struct {
	once sync.Once
	ca   *CA
}

// Foreign is a CA no server under test has ever heard of, made once per
// test process: certificates it signs must be refused at the handshake.
func Foreign(t testing.TB) *CA {
	t.Helper()
	foreign.once.Do(func() { foreign.ca = NewCA(t, "foreign device CA") })
	return foreign.ca
}

// Pool returns a new pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs tmpl for pub with the CA.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate, pub any) *x509.Certificate {
	t.Helper()
	return Issue(t, tmpl, ca.Cert, pub, ca.Key)
}

// Device signs a client certificate for device id with a fresh key: CN
// and identity URI naming id, clientAuth, valid from a minute ago for an
// hour, a random serial. adjust, when set, changes the template first;
// it is how tests build certificates the real CA would never issue.
func (ca *CA) Device(t testing.TB, id string, adjust func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	return device(t, ca.Cert, ca.Key, id, adjust)
}

// SelfSignedDevice is a device client certificate signed by its own key.
func SelfSignedDevice(t testing.TB, id string, adjust func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	return device(t, nil, nil, id, adjust)
}

func device(t testing.TB, parent *x509.Certificate, signer crypto.Signer, id string, adjust func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	key := Key(t)
	if signer == nil {
		signer = key
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: Serial(t),
		Subject:      pkix.Name{CommonName: id},
		// The identity URI is spelled out rather than taken from the
		// identity package, so that a change there is caught here.
		URIs:        []*url.URL{{Scheme: "urn", Opaque: "fleetgate:device:" + id}},
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if adjust != nil {
		adjust(tmpl)
	}
	leaf := Issue(t, tmpl, parent, key.Public(), signer)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}
