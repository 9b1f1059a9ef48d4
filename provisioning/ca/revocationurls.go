package ca

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// Paths under the public base URL where relying parties find revocation
// status (see package provisioning/revocation, which serves them).
const (
	// CRLPathPrefix is followed by IssuerID(intermediate) + ".crl".
	CRLPathPrefix = "/crl/"
	// OCSPPath is the OCSP responder (RFC 6960: POST, or GET + base64).
	OCSPPath = "/ocsp"
)

// IssuerID names an intermediate in revocation URLs: the lower-case hex of
// its subject key identifier, so that each intermediate has its own CRL
// and a rotation gives the new one a new URL.
func IssuerID(c *x509.Certificate) string { return hex.EncodeToString(c.SubjectKeyId) }

// CheckPublicURL checks a public base URL for revocation: absolute http or
// https, a host, no query, no fragment, no user info. A trailing slash is
// allowed and dropped by WithPublicURL.
func CheckPublicURL(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%w: public URL %q: %w", ErrBadPublicURL, base, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: public URL %q: scheme must be http or https", ErrBadPublicURL, base)
	case u.Host == "":
		return fmt.Errorf("%w: public URL %q: no host", ErrBadPublicURL, base)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%w: public URL %q: no query, fragment or user info allowed", ErrBadPublicURL, base)
	}
	return nil
}

// WithPublicURL returns a copy of ca whose device certificates carry a CRL
// distribution point (<base>/crl/<issuer-id>.crl) and an OCSP responder
// URL (<base>/ocsp). An empty base returns a copy that adds neither. The
// URL must pass CheckPublicURL.
func (ca *CA) WithPublicURL(base string) (*CA, error) {
	if base != "" {
		if err := CheckPublicURL(base); err != nil {
			return nil, err
		}
	}
	c := *ca
	c.publicURL = strings.TrimRight(base, "/")
	return &c, nil
}

// PublicURL returns the base URL set by WithPublicURL, without a trailing
// slash; empty when device certificates carry no revocation URLs.
func (ca *CA) PublicURL() string { return ca.publicURL }

// addRevocationURLs fills a device template's CRL distribution point and
// OCSP URL when a public URL is set.
func (ca *CA) addRevocationURLs(tmpl *x509.Certificate) {
	if ca.publicURL == "" {
		return
	}
	tmpl.CRLDistributionPoints = []string{ca.publicURL + CRLPathPrefix + IssuerID(ca.deviceCA) + ".crl"}
	tmpl.OCSPServer = []string{ca.publicURL + OCSPPath}
}
