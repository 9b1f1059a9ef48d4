package trustbundle_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// FuzzParse feeds Parse and Verify arbitrary bytes (the corpus in
// testdata/fuzz/FuzzParse holds signed bundles of one and two roots and
// broken ones). Neither may panic; Parse either refuses with ErrMalformed
// or returns at least one root, each a CA certificate, and the input as
// Raw; and no input verifies under a root that signed nothing, so a
// bundle cannot talk its way into trust.
func FuzzParse(f *testing.F) {
	r := newRollover(f)
	f.Add(sign(f, 1, []*x509.Certificate{r.old.Cert}, r.old, r.old.Cert))
	f.Add(sign(f, 2, []*x509.Certificate{r.new.Cert, r.old.Cert}, r.new, r.new.Cert, r.cross))
	stranger := pki.NewCA(f, "stranger").Cert
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, _, err := trustbundle.Parse(raw)
		if err != nil {
			if !errors.Is(err, trustbundle.ErrMalformed) {
				t.Fatalf("Parse refused with %v, not ErrMalformed", err)
			}
			return
		}
		if len(b.RootCerts) == 0 || !bytes.Equal(b.Raw, raw) {
			t.Fatalf("Parse accepted a bundle with %d roots, raw kept %v", len(b.RootCerts), bytes.Equal(b.Raw, raw))
		}
		for _, c := range b.RootCerts {
			if !c.IsCA {
				t.Fatalf("Parse accepted root %q, which is not a CA", c.Subject)
			}
		}
		pool := x509.NewCertPool()
		pool.AddCert(stranger)
		if _, err := trustbundle.Verify(raw, pool, nil, time.Now()); err == nil {
			t.Fatal("a bundle verified under a root that signed nothing")
		}
	})
}
