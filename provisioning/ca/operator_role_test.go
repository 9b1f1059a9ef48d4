package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
)

func TestOperatorRoleOf(t *testing.T) {
	cert := func(ous ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: "op", OrganizationalUnit: ous}}
	}
	for _, tt := range []struct {
		name string
		c    *x509.Certificate
		want OperatorRole
		err  error
	}{
		{"ok/no role is admin", cert(), RoleAdmin, nil},
		{"ok/other OU ignored", cert("plant-7"), RoleAdmin, nil},
		{"ok/read-only", cert("plant-7", RoleOUPrefix+"read-only"), RoleReadOnly, nil},
		{"ok/admin", cert(RoleOUPrefix + "admin"), RoleAdmin, nil},
		{"error/unknown role", cert(RoleOUPrefix + "root"), "", ErrNotOperator},
		{"error/two roles", cert(RoleOUPrefix+"admin", RoleOUPrefix+"read-only"), "", ErrNotOperator},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OperatorRoleOf(tt.c)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("OperatorRoleOf = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestIssueOperatorRole(t *testing.T) {
	c, _ := newTestCA(t)
	certPEM, _, err := c.IssueOperatorRole("viewer", RoleReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseBundle(certPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("issued %d certificates, %v", len(certs), err)
	}
	leaf := certs[0]
	if r, err := OperatorRoleOf(leaf); r != RoleReadOnly || err != nil {
		t.Fatalf("issued role %q, %v", r, err)
	}
	if _, _, err := c.IssueOperatorRole("x", "owner", 0); !errors.Is(err, ErrBadIdentity) {
		t.Fatalf("unknown role: %v", err)
	}
}
