package ca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
)

func TestIssueOperator(t *testing.T) {
	c, _ := newTestCA(t)
	c.now = fixedClock(time.Now())
	certPEM, keyPEM, err := c.IssueOperator("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("certificate and key do not belong together: %v", err)
	}
	cert := pair.Leaf
	if name, err := OperatorName(cert); err != nil || name != "alice" {
		t.Errorf("OperatorName = %q, %v", name, err)
	}
	if cert.Subject.CommonName != "alice" || cert.IsCA {
		t.Errorf("CN %q IsCA %v", cert.Subject.CommonName, cert.IsCA)
	}
	if got := cert.NotAfter.Sub(c.now()); got != DefaultOperatorLifetime {
		t.Errorf("lifetime %v, want %v", got, DefaultOperatorLifetime)
	}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.OperatorPool(), KeyUsages: client}); err != nil {
		t.Errorf("operator certificate does not verify against OperatorPool: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: client}); err == nil {
		t.Error("operator certificate verifies against DevicePool")
	}
	if _, err := identity.FromCertificate(cert); err == nil {
		t.Error("operator certificate reads as a device identity")
	}
}

func TestIssueOperatorErrors(t *testing.T) {
	c, _ := newTestCA(t)
	cases := []struct {
		name     string
		operator string
		lifetime time.Duration
		want     error
	}{
		{"error/slash", "a/b", 0, identity.ErrInvalidID},
		{"error/wildcard", "a+b", 0, ErrBadIdentity},
		{"error/empty", "", 0, ErrBadIdentity},
		{"error/too long lifetime", "bob", MaxOperatorLifetime + time.Hour, ErrBadLifetime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := c.IssueOperator(tc.operator, tc.lifetime); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOperatorName(t *testing.T) {
	c, _ := newTestCA(t)
	device, _ := issueTestDevice(t, c, "dev-1", 1)
	withURIs := func(ss ...string) *x509.Certificate {
		cert := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		for _, s := range ss {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			cert.URIs = append(cert.URIs, u)
		}
		return cert
	}
	serverOnly := withURIs("urn:fleetgate:operator:bob")
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	caCert := withURIs("urn:fleetgate:operator:bob")
	caCert.IsCA = true
	cases := []struct {
		name string
		cert *x509.Certificate
		want string // "" means ErrNotOperator
	}{
		{"ok/operator", withURIs("urn:fleetgate:operator:bob"), "bob"},
		{"error/device certificate", device, ""},
		{"error/root", c.Root(), ""},
		{"error/nil", nil, ""},
		{"error/no URI", withURIs(), ""},
		{"error/two URIs", withURIs("urn:fleetgate:operator:bob", "urn:fleetgate:operator:eve"), ""},
		{"error/bad name", withURIs("urn:fleetgate:operator:a%2Fb"), ""},
		{"error/empty name", withURIs("urn:fleetgate:operator:"), ""},
		{"error/server only", serverOnly, ""},
		{"error/CA", caCert, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OperatorName(tc.cert)
			if tc.want == "" {
				if !errors.Is(err, ErrNotOperator) {
					t.Fatalf("got %q, %v; want ErrNotOperator", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestFingerprintAndSerialHex(t *testing.T) {
	c, _ := newTestCA(t)
	a, _ := issueTestDevice(t, c, "dev-1", 0xabc)
	b, _ := issueTestDevice(t, c, "dev-1", 0xabc)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(Fingerprint(a)) {
		t.Errorf("fingerprint %q is not lower-case hex SHA-256", Fingerprint(a))
	}
	if Fingerprint(a) == Fingerprint(b) {
		t.Error("two different certificates share a fingerprint")
	}
	if Fingerprint(a) != Fingerprint(parseCertPEM(t, EncodeCertPEM(a))) {
		t.Error("fingerprint changes across a PEM round trip")
	}
	if got := SerialHex(a); got != "abc" {
		t.Errorf("SerialHex = %q, want abc", got)
	}
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	if got := SerialHex(&x509.Certificate{SerialNumber: big1}); got != "10000000000000000000000000" {
		t.Errorf("SerialHex = %q", got)
	}
}
