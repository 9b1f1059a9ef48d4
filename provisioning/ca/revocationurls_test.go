package ca

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckPublicURL(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"ok/https", "https://pki.example.com", true},
		{"ok/http with port and path", "http://127.0.0.1:8080/fleet/", true},
		{"error/relative", "/crl", false},
		{"error/no host", "https://", false},
		{"error/ftp", "ftp://pki.example.com", false},
		{"error/query", "https://pki.example.com/?a=b", false},
		{"error/empty query", "https://pki.example.com/?", false},
		{"error/fragment", "https://pki.example.com/#x", false},
		{"error/user info", "https://u:p@pki.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPublicURL(tc.url)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadPublicURL)) {
				t.Fatalf("CheckPublicURL(%q) = %v", tc.url, err)
			}
		})
	}
}

// TestIssueDeviceRevocationURLs: with a public URL the certificate names
// the CRL of its own intermediate and the OCSP responder; without one it
// names neither.
func TestIssueDeviceRevocationURLs(t *testing.T) {
	plain, _ := newTestCA(t)
	c, err := plain.WithPublicURL("https://pki.example.com/fleet/")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := issueTestDevice(t, c, "dev-1", 7)
	wantCRL := "https://pki.example.com/fleet/crl/" + IssuerID(c.DeviceCA()) + ".crl"
	if !slices.Equal(leaf.CRLDistributionPoints, []string{wantCRL}) {
		t.Errorf("CRL distribution points %v, want [%s]", leaf.CRLDistributionPoints, wantCRL)
	}
	if !slices.Equal(leaf.OCSPServer, []string{"https://pki.example.com/fleet/ocsp"}) {
		t.Errorf("OCSP servers %v", leaf.OCSPServer)
	}
	if len(IssuerID(c.DeviceCA())) != 40 {
		t.Errorf("issuer ID %q: want the hex of a 20-byte key identifier", IssuerID(c.DeviceCA()))
	}
	bare, _ := issueTestDevice(t, plain, "dev-2", 8)
	if len(bare.CRLDistributionPoints) != 0 || len(bare.OCSPServer) != 0 {
		t.Errorf("without a public URL: CRL %v OCSP %v", bare.CRLDistributionPoints, bare.OCSPServer)
	}
	if _, err := plain.WithPublicURL("pki.example.com"); !errors.Is(err, ErrBadPublicURL) {
		t.Errorf("WithPublicURL without scheme: %v", err)
	}
}
