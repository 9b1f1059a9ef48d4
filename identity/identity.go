// Package identity defines how a device identity is written into and read
// out of an X.509 certificate, and which device IDs are acceptable.
//
// A device certificate carries exactly one URI SAN of the form
//
//	urn:fleetgate:device:<id>
//
// written by the CA from the registry, never copied from a CSR. The
// certificate's Common Name mirrors the ID for people reading logs, but
// nothing trusts it. The ID is also the device's MQTT client ID and the
// second level of its topic namespace (devices/<id>/#), so it must never hold
// MQTT wildcard or separator characters.
//
// This package has no dependencies outside the standard library so that the
// device agent can use it without pulling in server code.
package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URIPrefix is what every device identity URI starts with.
const URIPrefix = "urn:fleetgate:device:"

// MaxIDLength is the longest device ID accepted.
const MaxIDLength = 128

var (
	// ErrInvalidID means a device ID is empty, too long, or holds a character
	// outside [A-Za-z0-9._:-] (for example '+', '#', '/', whitespace or a
	// control character).
	ErrInvalidID = errors.New("invalid device id")

	// ErrNoIdentity means a certificate carries no device identity URI SAN.
	ErrNoIdentity = errors.New("certificate carries no device identity")

	// ErrAmbiguousIdentity means a certificate carries more than one URI SAN.
	ErrAmbiguousIdentity = errors.New("certificate carries more than one URI SAN")
)

// ValidateID reports whether id is an acceptable device ID. Accepted IDs are
// 1 to MaxIDLength characters from [A-Za-z0-9._:-], starting with a letter or
// digit. The whitelist keeps out MQTT wildcards ('+', '#'), the topic
// separator ('/'), '$' (reserved topics), whitespace, control characters and
// anything a shell or a URI would need to escape.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidID, MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == ':' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: %q: character %q at offset %d is not allowed (use letters, digits, '.', '_', ':' and '-', starting with a letter or digit)", ErrInvalidID, id, c, i)
		}
	}
	return nil
}

// URI returns the identity URI for a device ID. The ID must be valid.
func URI(id string) (*url.URL, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return &url.URL{Scheme: "urn", Opaque: strings.TrimPrefix(URIPrefix, "urn:") + id}, nil
}

// FromURI extracts the device ID from an identity URI.
func FromURI(u *url.URL) (string, error) {
	if u == nil {
		return "", ErrNoIdentity
	}
	s := u.String()
	if !strings.HasPrefix(s, URIPrefix) {
		return "", fmt.Errorf("%w: URI %q is not a device identity", ErrNoIdentity, s)
	}
	id := strings.TrimPrefix(s, URIPrefix)
	if err := ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// FromCertificate returns the device ID named by the certificate's only URI
// SAN. The Common Name is ignored: anyone can put anything there in a CSR.
func FromCertificate(c *x509.Certificate) (string, error) {
	switch len(c.URIs) {
	case 0:
		return "", ErrNoIdentity
	case 1:
		return FromURI(c.URIs[0])
	default:
		return "", ErrAmbiguousIdentity
	}
}

// Namespace returns the topic prefix a device owns: "devices/<id>/".
func Namespace(id string) string { return "devices/" + id + "/" }
