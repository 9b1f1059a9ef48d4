package trustbundle_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// rollover is two roots and the cross-certificate of the new root's key
// signed by the old root, as `fleetgate ca root-rollover begin` makes them.
type rollover struct {
	old, new *pki.CA
	cross    *x509.Certificate
}

func newRollover(t testing.TB) rollover {
	t.Helper()
	old, fresh := pki.NewCA(t, "root 1"), pki.NewCA(t, "root 2")
	cross := old.Issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "root 2"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: fresh.Cert.SubjectKeyId,
	}, fresh.Key.Public())
	return rollover{old: old, new: fresh, cross: cross}
}

func sign(t testing.TB, seq uint64, roots []*x509.Certificate, by *pki.CA, signer ...*x509.Certificate) []byte {
	t.Helper()
	raw, err := trustbundle.Sign(seq, time.Now(), roots, by.Key, signer)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestVerify(t *testing.T) {
	r := newRollover(t)
	now := time.Now()
	duringRollover := sign(t, 2, []*x509.Certificate{r.new.Cert, r.old.Cert}, r.new, r.new.Cert, r.cross)

	t.Run("ok/holder of the old root learns the new one through the cross-certificate", func(t *testing.T) {
		b, err := trustbundle.Verify(duringRollover, r.old.Pool(), nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if b.Sequence != 2 || len(b.RootCerts) != 2 || !b.RootCerts[0].Equal(r.new.Cert) {
			t.Fatalf("bundle = seq %d, %d roots", b.Sequence, len(b.RootCerts))
		}
		// The bundle after the rollover verifies under the roots this one installed.
		after := sign(t, 3, []*x509.Certificate{r.new.Cert}, r.new, r.new.Cert)
		if _, err := trustbundle.Verify(after, b.Pool(), b, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/the same bundle again", func(t *testing.T) {
		b, err := trustbundle.Verify(duringRollover, r.old.Pool(), nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trustbundle.Verify(duringRollover, b.Pool(), b, now); err != nil {
			t.Fatal(err)
		}
	})

	held, err := trustbundle.Verify(duringRollover, r.old.Pool(), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	stranger := pki.NewCA(t, "root 2") // same name, another key
	tampered := tamper(t, duringRollover, func(tb *wire.TrustBundle) {
		tb.Payload = []byte(strings.Replace(string(tb.Payload), `"sequence":2`, `"sequence":7`, 1))
	})
	for _, tc := range []struct {
		name    string
		raw     []byte
		trusted *x509.CertPool
		held    *trustbundle.Bundle
		want    error
	}{
		{"error/signed by an unknown key", sign(t, 5, []*x509.Certificate{stranger.Cert}, stranger, stranger.Cert), r.old.Pool(), nil, trustbundle.ErrUnknownSigner},
		{"error/new root without the cross-certificate", sign(t, 2, []*x509.Certificate{r.new.Cert}, r.new, r.new.Cert), r.old.Pool(), nil, trustbundle.ErrUnknownSigner},
		{"error/payload altered", tampered, r.old.Pool(), nil, trustbundle.ErrUnknownSigner},
		{"error/replayed older bundle", sign(t, 1, []*x509.Certificate{r.old.Cert}, r.old, r.old.Cert), held.Pool(), held, trustbundle.ErrStale},
		{"error/same sequence other contents", sign(t, 2, []*x509.Certificate{r.new.Cert}, r.new, r.new.Cert), held.Pool(), held, trustbundle.ErrStale},
		{"error/signer not among the roots", sign(t, 3, []*x509.Certificate{stranger.Cert}, r.new, r.new.Cert), held.Pool(), held, trustbundle.ErrMalformed},
		{"error/not JSON", []byte("{"), r.old.Pool(), nil, trustbundle.ErrMalformed},
		{"error/unknown algorithm", tamper(t, duringRollover, func(tb *wire.TrustBundle) { tb.Algorithm = "none" }), r.old.Pool(), nil, trustbundle.ErrMalformed},
		{"error/no roots", tamper(t, duringRollover, func(tb *wire.TrustBundle) { tb.Payload = []byte(`{"sequence":9}`) }), r.old.Pool(), nil, trustbundle.ErrMalformed},
		{"error/garbage signer", tamper(t, duringRollover, func(tb *wire.TrustBundle) { tb.Signer = "junk" }), r.old.Pool(), nil, trustbundle.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trustbundle.Verify(tc.raw, tc.trusted, tc.held, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// tamper changes a signed bundle without signing it again.
func tamper(t *testing.T, raw []byte, change func(*wire.TrustBundle)) []byte {
	t.Helper()
	var tb wire.TrustBundle
	if err := json.Unmarshal(raw, &tb); err != nil {
		t.Fatal(err)
	}
	change(&tb)
	out, err := json.Marshal(tb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
