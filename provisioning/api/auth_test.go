package api_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestAuthentication checks who may call the operator routes. Some
// certificates are refused at the handshake; others pass the handshake
// (because Go accepts a leaf without EKU or with CA:TRUE, or because the
// listener also trusts the device CA, as it will for rotation) and must be
// refused by the per-request check. Either way nothing changes.
func TestAuthentication(t *testing.T) {
	plain := apitest.Start(t, apitest.Options{})
	// The listener of the rotation work: device certificates pass the
	// handshake too, so only the per-request check stands in their way.
	shared := apitest.Start(t, apitest.Options{TLS: func(c *tls.Config, authority *ca.CA) {
		c.ClientCAs.AddCert(authority.DeviceCA()) // OperatorPool returns a fresh pool
	}})
	mustRegister(t, plain, "sensor-1")
	mustRegister(t, shared, "sensor-1")
	deviceCert := deviceCertificate(t, plain, "sensor-1")
	sharedDeviceCert := deviceCertificate(t, shared, "sensor-1")
	opKey, opCA := operatorCA(t, plain)

	tests := []struct {
		name      string
		env       *apitest.Env
		cert      *tls.Certificate // nil: no client certificate
		handshake bool             // refused at the handshake rather than with 401
	}{
		{"error/no-client-cert", plain, nil, false},
		// The listener trusts the device CA for rotation, so a device
		// certificate passes the handshake and meets the per-request check.
		{"error/device-cert", plain, deviceCert, false},
		{"error/device-cert-past-handshake", shared, sharedDeviceCert, false},
		{"error/operator-ca-leaf-without-eku", plain, operatorLeaf(t, opCA, opKey, "mallory", nil, false), false},
		{"error/operator-ca-leaf-is-ca", plain, operatorLeaf(t, opCA, opKey, "mallory", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, true), false},
		{"error/operator-ca-leaf-server-eku", plain, operatorLeaf(t, opCA, opKey, "mallory", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, false), true},
		{"error/self-signed-operator", plain, operatorLeaf(t, nil, nil, "admin", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: tc.env.CA.RootPool(), MinVersion: tls.VersionTLS12}
			if tc.cert != nil {
				// Presented whatever CAs the server asks for, as an attacker
				// would; the stock selection would quietly send nothing.
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return tc.cert, nil
				}
			}
			c := client.New(tc.env.URL, cfg)
			defer c.CloseIdleConnections()
			before := take(t, tc.env)

			_, err := c.RegisterDevice(testCtx(t), wire.RegisterRequest{ID: "intruder-1"})
			checkRefused(t, err, tc.handshake)
			_, err = c.Revoke(testCtx(t), "sensor-1", "hostile takeover")
			checkRefused(t, err, tc.handshake)
			_, err = c.Devices(testCtx(t), client.DeviceFilter{})
			checkRefused(t, err, tc.handshake)

			assertUnchanged(t, tc.env, before)
		})
	}

	t.Run("ok/admin", func(t *testing.T) {
		if _, err := plain.Admin.Devices(testCtx(t), client.DeviceFilter{}); err != nil {
			t.Fatalf("admin refused: %v", err)
		}
	})
	t.Run("ok/ca-is-public", func(t *testing.T) {
		if _, err := plain.Anonymous.CA(testCtx(t)); err != nil {
			t.Fatalf("GET /v1/ca without a client certificate: %v", err)
		}
	})
}

func checkRefused(t *testing.T, err error, handshake bool) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatal("request accepted")
	case handshake:
		if !errors.Is(err, client.ErrUnreachable) {
			t.Errorf("err = %v, want a refused handshake", err)
		}
	default:
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != wire.CodeUnauthenticated || !client.IsUnauthenticated(err) {
			t.Errorf("err = %v, want 401 unauthenticated", err)
		}
	}
}

// deviceCertificate issues a genuine device certificate from e's CA.
func deviceCertificate(t *testing.T, e *apitest.Env, id string) *tls.Certificate {
	t.Helper()
	csrPEM, key := newCSR(t, id)
	csr, err := ca.ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := e.CA.IssueDevice(csr, id, big.NewInt(1), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw, e.CA.DeviceCA().Raw}, PrivateKey: key, Leaf: leaf}
}

// operatorCA reads the operator CA key from e's CA directory, to forge
// certificates the CA itself would never issue.
func operatorCA(t *testing.T, e *apitest.Env) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	return pki.ReadKey(t, filepath.Join(e.CADir, ca.OperatorCAKeyFile)), e.CA.OperatorCA()
}

// operatorLeaf makes a certificate naming operator name, signed by parent
// (self-signed when parent is nil).
func operatorLeaf(t *testing.T, parent *x509.Certificate, parentKey crypto.Signer, name string, eku []x509.ExtKeyUsage, isCA bool) *tls.Certificate {
	t.Helper()
	key := pki.Key(t)
	uri, _ := url.Parse(ca.OperatorURIPrefix + name)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           eku,
		URIs:                  []*url.URL{uri},
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if parent == nil {
		parentKey = key
	}
	leaf := pki.Issue(t, tmpl, parent, &key.PublicKey, parentKey)
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}
}
