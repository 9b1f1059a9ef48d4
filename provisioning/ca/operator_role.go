package ca

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// OperatorRole is what an operator may do. It travels in the operator
// certificate, so the operator CA is the only place that grants it.
type OperatorRole string

// Operator roles.
const (
	// RoleAdmin may read and change everything the operator API offers.
	RoleAdmin OperatorRole = "admin"
	// RoleReadOnly may read but change nothing.
	RoleReadOnly OperatorRole = "read-only"
)

// RoleOUPrefix starts the subject OrganizationalUnit that carries the
// role: "fleetgate-role=read-only". An OU (rather than a private
// extension) shows in every certificate viewer and in openssl x509 -text,
// and the operator CA signs it like any other field. Certificates issued
// before roles existed carry no such OU and are admins, as they always
// were.
const RoleOUPrefix = "fleetgate-role="

// ParseOperatorRole checks a role name as given on a command line.
func ParseOperatorRole(s string) (OperatorRole, error) {
	switch r := OperatorRole(s); r {
	case RoleAdmin, RoleReadOnly:
		return r, nil
	}
	return "", fmt.Errorf("%w: operator role %q: want %q or %q", ErrBadIdentity, s, RoleAdmin, RoleReadOnly)
}

// OperatorRoleOf returns the role an operator certificate grants: the one
// fleetgate-role OU, or RoleAdmin when there is none. Two role OUs, or an
// unknown role, make the certificate unusable rather than guessed at.
func OperatorRoleOf(c *x509.Certificate) (OperatorRole, error) {
	var found []string
	for _, ou := range c.Subject.OrganizationalUnit {
		if v, ok := strings.CutPrefix(ou, RoleOUPrefix); ok {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return RoleAdmin, nil
	case 1:
		r, err := ParseOperatorRole(found[0])
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotOperator, err)
		}
		return r, nil
	}
	return "", fmt.Errorf("%w: %d role OUs, want at most 1", ErrNotOperator, len(found))
}

// IssueOperatorRole is IssueOperator for an operator with the given role.
func (ca *CA) IssueOperatorRole(name string, role OperatorRole, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	if _, err := ParseOperatorRole(string(role)); err != nil {
		return nil, nil, err
	}
	return issueOperatorRole(ca.operatorCA, ca.operatorKey, name, role, ca.now(), lifetime)
}
