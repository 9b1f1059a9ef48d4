package broker

import (
	"crypto/x509"
	"net/url"
	"testing"
	"time"
)

// TestCheckLeaf covers the certificate checks on their own, with a clock
// the test controls: the validity checks matter on resumed TLS sessions,
// which Go does not verify again, so the wire tests cannot reach them.
func TestCheckLeaf(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	leaf := func(adjust func(*x509.Certificate)) *x509.Certificate {
		return f.craft("leafy", adjust).Leaf
	}
	tests := []struct {
		name   string
		cert   *x509.Certificate
		now    time.Time
		reason string
	}{
		{name: "ok/valid", cert: leaf(nil), now: now},
		{name: "ok/clientAuth among others", cert: leaf(func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}), now: now},
		{name: "error/no EKU", cert: leaf(func(c *x509.Certificate) { c.ExtKeyUsage = nil }), now: now, reason: reasonEKU},
		{name: "error/any EKU only", cert: leaf(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), now: now, reason: reasonEKU},
		{name: "error/CA", cert: leaf(func(c *x509.Certificate) { c.IsCA = true }), now: now, reason: reasonCALeaf},
		{name: "error/expired since the handshake", cert: leaf(nil), now: now.Add(2 * time.Hour), reason: reasonExpired},
		{name: "error/not yet valid", cert: leaf(nil), now: now.Add(-2 * time.Hour), reason: reasonNotYetValid},
		{name: "error/no URI", cert: leaf(func(c *x509.Certificate) { c.URIs = nil }), now: now, reason: reasonNoIdentity},
		{name: "error/two URIs", cert: leaf(func(c *x509.Certificate) {
			c.URIs = append(c.URIs, &url.URL{Scheme: "urn", Opaque: "fleetgate:device:other"})
		}), now: now, reason: reasonNoIdentity},
		{name: "error/foreign URI", cert: leaf(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/leafy"}}
		}), now: now, reason: reasonNoIdentity},
		{name: "error/wildcard in ID", cert: leaf(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "urn", Opaque: "fleetgate:device:a+b"}}
		}), now: now, reason: reasonNoIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, reason := checkLeaf(tt.cert, tt.now)
			if reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
			if tt.reason == "" && id != "leafy" {
				t.Fatalf("device ID %q, want leafy", id)
			}
		})
	}
}
