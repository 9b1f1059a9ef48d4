package broker

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// craft signs a device certificate for id with the real device CA key
// (or with signer/parent when given), after adjust has changed the
// template. It is how tests build certificates the CA would never issue.
func (f *fixture) craft(id string, adjust func(*x509.Certificate)) tls.Certificate {
	f.t.Helper()
	return f.craftWith(f.ca.DeviceCA(), f.caKey, id, adjust)
}

func (f *fixture) craftWith(parent *x509.Certificate, signer crypto.Signer, id string, adjust func(*x509.Certificate)) tls.Certificate {
	f.t.Helper()
	serial, err := f.db.AllocateSerial(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	ca := &pki.CA{Cert: parent, Key: signer}
	return ca.Device(f.t, id, func(c *x509.Certificate) {
		c.SerialNumber = serial
		if adjust != nil {
			adjust(c)
		}
	})
}

// foreignCA returns a fresh self-signed CA that the broker does not trust.
func foreignCA(t *testing.T) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	ca := pki.NewCA(t, "foreign CA")
	return ca.Cert, ca.Key
}
