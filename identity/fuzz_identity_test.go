package identity

import (
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateID: an accepted ID holds only [A-Za-z0-9._:-], starts with a
// letter or digit and is at most MaxIDLength bytes, so it never carries an
// MQTT wildcard or separator, '$', whitespace or a control character; and
// it survives the trip through its identity URI and the URI's text. A
// refusal always wraps ErrInvalidID.
func FuzzValidateID(f *testing.F) {
	f.Fuzz(func(t *testing.T, id string) {
		if err := ValidateID(id); err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("ValidateID(%q) = %v, which does not wrap ErrInvalidID", id, err)
			}
			return
		}
		if id == "" || len(id) > MaxIDLength {
			t.Fatalf("accepted an ID of %d bytes", len(id))
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !alnum && (i == 0 || !strings.ContainsRune("._:-", rune(c))) {
				t.Fatalf("accepted %q with byte %q at offset %d", id, c, i)
			}
		}
		if strings.ContainsAny(id, "+#/$ \t\r\n\x00\x7f") {
			t.Fatalf("accepted %q", id)
		}
		u, err := URI(id)
		if err != nil {
			t.Fatalf("URI(%q): %v", id, err)
		}
		if got := u.String(); got != URIPrefix+id {
			t.Fatalf("URI(%q) = %q", id, got)
		}
		parsed, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("parse %q: %v", u, err)
		}
		if back, err := FromURI(parsed); err != nil || back != id {
			t.Fatalf("FromURI(%q) = %q, %v; want %q", u, back, err, id)
		}
		if ns := Namespace(id); ns != "devices/"+id+"/" || strings.Count(ns, "/") != 2 {
			t.Fatalf("Namespace(%q) = %q", id, ns)
		}
	})
}

// FuzzFromURI parses arbitrary text as a certificate's URI SAN. Whatever
// FromURI accepts names a valid ID and is exactly the URI the CA writes
// for that ID; FromCertificate reads it back from a lone SAN and refuses
// it next to a second one. A refusal wraps ErrNoIdentity or ErrInvalidID.
func FuzzFromURI(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		id, err := FromURI(u)
		if err != nil {
			if !errors.Is(err, ErrNoIdentity) && !errors.Is(err, ErrInvalidID) {
				t.Fatalf("FromURI(%q) = %v, which wraps neither sentinel", s, err)
			}
			return
		}
		if err := ValidateID(id); err != nil {
			t.Fatalf("FromURI(%q) accepted the invalid ID %q: %v", s, id, err)
		}
		want, err := URI(id)
		if err != nil || want.String() != u.String() {
			t.Fatalf("FromURI(%q) = %q, but the CA would write %v for it", s, id, want)
		}
		if got, err := FromCertificate(&x509.Certificate{URIs: []*url.URL{u}}); err != nil || got != id {
			t.Fatalf("FromCertificate with SAN %q = %q, %v; want %q", u, got, err, id)
		}
		if _, err := FromCertificate(&x509.Certificate{URIs: []*url.URL{u, want}}); !errors.Is(err, ErrAmbiguousIdentity) {
			t.Fatalf("two identity SANs: %v, want ErrAmbiguousIdentity", err)
		}
	})
}
