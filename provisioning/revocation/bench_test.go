package revocation

import (
	"bytes"
	"context"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// Run with: make bench-ocsp
// (go test -run '^$' -bench . -benchtime 3s ./provisioning/revocation/)

// BenchmarkOCSP: responses per second over loopback HTTP (keep-alive,
// POST, no nonce), answered from the cache or read from the registry and
// signed for every request.
func BenchmarkOCSP(b *testing.B) {
	e := newEnv(b)
	leaf := e.device(b, "dev-1")
	der := ocspRequest(b, leaf, e.ca.DeviceCA(), nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(b *testing.B) {
		resp, err := client.Post(e.url+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(body) < 100 {
			b.Fatalf("short response %x", body)
		}
	}
	for _, mode := range []string{"cached", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if mode == "uncached" {
						e.rsp.ocsp.dropAll()
					}
					post(b)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		})
	}
}

// revokedRegistry is a registry of n revoked certificates held in memory:
// the benchmark measures issuing the CRL, not reading a registry file.
type revokedRegistry struct{ certs []store.Certificate }

func (r revokedRegistry) Certificate(context.Context, string) (store.Certificate, error) {
	return store.Certificate{}, store.ErrNotFound
}
func (r revokedRegistry) Certificates(context.Context, string) ([]store.Certificate, error) {
	return r.certs, nil
}
func (r revokedRegistry) Watch(context.Context) <-chan store.Change { return nil }

// BenchmarkCRL100k: time and size of a CRL listing 100,000 revoked
// certificates, signed by the device intermediate.
func BenchmarkCRL100k(b *testing.B) {
	const n = 100_000
	authority, _, err := ca.Bootstrap(b.TempDir(), ca.BootstrapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	reg := revokedRegistry{certs: make([]store.Certificate, n)}
	for i := range reg.certs {
		// Registry-sized serials: 64 bits and more.
		serial := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 63), big.NewInt(int64(i)))
		reg.certs[i] = store.Certificate{Serial: serial.Text(16), Status: store.CertRevoked, Reason: "key compromise",
			RevokedAt: now.Add(-time.Duration(i) * time.Second), NotAfter: now.Add(24 * time.Hour)}
	}
	r, err := New(Config{Authority: func() *ca.CA { return authority }, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	var size int
	for b.Loop() {
		der, err := r.issueCRL(b.Context(), authority.Issuers()[0], time.Now())
		if err != nil {
			b.Fatal(err)
		}
		size = len(der)
	}
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(size)/n, "bytes/entry")
	b.Logf("CRL of %d entries: %d bytes", n, size)
}
