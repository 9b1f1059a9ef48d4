package pki

import (
	"crypto/x509"
	"time"
)

// Adjusters for Device that make the certificates a verifier must refuse.
var (
	// Expired ended an hour ago.
	Expired = func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	}
	// NotYetValid starts in an hour.
	NotYetValid = func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	}
	// ServerAuthOnly allows serverAuth and not clientAuth.
	ServerAuthOnly = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }
	// NoEKU has no extended key usage at all, which Go's verifier lets
	// through as "any".
	NoEKU = func(c *x509.Certificate) { c.ExtKeyUsage = nil }
	// CALeaf is a leaf that claims CA:TRUE and may sign certificates.
	CALeaf = func(c *x509.Certificate) {
		c.IsCA, c.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
	}
	// NoURI has no identity URI.
	NoURI = func(c *x509.Certificate) { c.URIs = nil }
)
