package identity

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
)

func TestValidateID(t *testing.T) {
	ok := []string{"a", "dev-001", "SN_42.b", "aa:bb:cc:dd:ee:ff", "0"}
	for _, id := range ok {
		if err := ValidateID(id); err != nil {
			t.Errorf("ok/%q: %v", id, err)
		}
	}
	long := make([]byte, MaxIDLength+1)
	for i := range long {
		long[i] = 'a'
	}
	bad := []string{"", "a+b", "a#", "a/b", "a b", "a\tb", "a\x00", "a\x7f", "$SYS", "-x", ".x", "é", string(long), "a\nb"}
	for _, id := range bad {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("error/%q: got %v, want ErrInvalidID", id, err)
		}
	}
}

func TestURIRoundTrip(t *testing.T) {
	u, err := URI("dev-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != "urn:fleetgate:device:dev-1" {
		t.Fatalf("URI = %q", got)
	}
	// Round trip through the text form, as a certificate parser would see it.
	parsed, err := url.Parse(u.String())
	if err != nil {
		t.Fatal(err)
	}
	id, err := FromCertificate(&x509.Certificate{URIs: []*url.URL{parsed}})
	if err != nil || id != "dev-1" {
		t.Fatalf("FromCertificate = %q, %v", id, err)
	}
}

func TestFromCertificateErrors(t *testing.T) {
	mk := func(ss ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range ss {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	cases := []struct {
		name string
		cert *x509.Certificate
		want error
	}{
		{"error/none", mk(), ErrNoIdentity},
		{"error/two", mk("urn:fleetgate:device:a", "urn:fleetgate:device:b"), ErrAmbiguousIdentity},
		{"error/foreign scheme", mk("spiffe://x/y"), ErrNoIdentity},
		{"error/wildcard id", mk("urn:fleetgate:device:a+b"), ErrInvalidID},
		{"error/slash id", mk("urn:fleetgate:device:a/b"), ErrInvalidID},
		{"error/escaped slash", mk("urn:fleetgate:device:a%2Fb"), ErrInvalidID},
	}
	for _, c := range cases {
		if _, err := FromCertificate(c.cert); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}
