package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/identity"
)

// OperatorURIPrefix is what every operator identity URI starts with. It
// differs from identity.URIPrefix so that no device identity can ever be read
// as an operator one.
const OperatorURIPrefix = "urn:fleetgate:operator:"

// Operator certificate lifetimes.
const (
	// DefaultOperatorLifetime applies when IssueOperator is given a
	// lifetime <= 0.
	DefaultOperatorLifetime = 365 * 24 * time.Hour
	// MaxOperatorLifetime is the longest lifetime IssueOperator accepts.
	MaxOperatorLifetime = 397 * 24 * time.Hour
)

// adminName is the operator Bootstrap creates a certificate for.
const adminName = "admin"

// IssueOperator creates a new P-256 key and a client certificate for the
// operator name (validated like a device ID), signed by the operator CA. It
// returns the certificate and the PKCS#8 key as PEM. A lifetime <= 0 means
// DefaultOperatorLifetime.
func (ca *CA) IssueOperator(name string, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	return issueOperator(ca.operatorCA, ca.operatorKey, name, ca.now(), lifetime)
}

func issueOperator(parent *x509.Certificate, parentKey crypto.Signer, name string, now time.Time, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	return issueOperatorRole(parent, parentKey, name, "", now, lifetime)
}

// issueOperatorRole issues an operator certificate; an empty role writes no
// role OU (an admin, like every certificate from before roles).
func issueOperatorRole(parent *x509.Certificate, parentKey crypto.Signer, name string, role OperatorRole, now time.Time, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	uri, err := operatorURI(name)
	if err != nil {
		return nil, nil, err
	}
	notBefore, notAfter, err := leafValidity(parent, now, lifetime, DefaultOperatorLifetime, MaxOperatorLifetime)
	if err != nil {
		return nil, nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := clientTemplate(name, uri, notBefore, notAfter)
	if role != "" {
		tmpl.Subject.OrganizationalUnit = []string{RoleOUPrefix + string(role)}
	}
	cert, err := sign(tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = EncodeKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return EncodeCertPEM(cert), keyPEM, nil
}

func operatorURI(name string) (*url.URL, error) {
	if err := identity.ValidateID(name); err != nil {
		return nil, fmt.Errorf("%w: operator name: %w", ErrBadIdentity, err)
	}
	return url.Parse(OperatorURIPrefix + name)
}

// OperatorName returns the operator name from an operator client
// certificate: its only URI SAN must be urn:fleetgate:operator:<name>, it
// must allow clientAuth and must not be a CA. The caller must already have
// verified the certificate against OperatorPool; this only reads it.
func OperatorName(c *x509.Certificate) (string, error) {
	switch {
	case c == nil:
		return "", fmt.Errorf("%w: no certificate", ErrNotOperator)
	case c.IsCA:
		return "", fmt.Errorf("%w: a CA certificate", ErrNotOperator)
	case !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth):
		return "", fmt.Errorf("%w: not valid for client authentication", ErrNotOperator)
	case len(c.URIs) != 1:
		return "", fmt.Errorf("%w: %d URI SANs, want exactly 1", ErrNotOperator, len(c.URIs))
	}
	s := c.URIs[0].String()
	name, ok := strings.CutPrefix(s, OperatorURIPrefix)
	if !ok {
		return "", fmt.Errorf("%w: URI %q is not an operator identity", ErrNotOperator, s)
	}
	if err := identity.ValidateID(name); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotOperator, err)
	}
	return name, nil
}
