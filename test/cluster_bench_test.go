package test

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// benchDevice registers a device through the operator API and issues it a
// certificate for a key made here.
func benchDevice(b testing.TB, admin *client.Client, id string) tls.Certificate {
	b.Helper()
	if _, err := admin.RegisterDevice(context.Background(), wire.RegisterRequest{ID: id}); err != nil {
		b.Fatalf("register %s: %v", id, err)
	}
	key := pki.Key(b)
	chain, err := issueChain(admin, id, key, []byte(pki.CSRPEM(b, key, "")))
	if err != nil {
		b.Fatal(err)
	}
	return chain
}

// issueChain issues a certificate for a registered device from csr (made
// for key) and returns it with its chain, ready for a TLS client.
func issueChain(admin *client.Client, id string, key crypto.Signer, csr []byte) (tls.Certificate, error) {
	issued, err := admin.IssueCertificate(context.Background(), id, csr, 0)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue %s: %w", id, err)
	}
	chain := tls.Certificate{PrivateKey: key}
	for rest := []byte(issued.Chain); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		chain.Certificate = append(chain.Certificate, blk.Bytes)
	}
	return chain, nil
}

// connectRate runs workers that connect (TLS + CONNECT + CONNACK, then
// close) as fast as they can for d and returns admitted connects per second.
// Each pass over the devices uses the next broker, so with several brokers
// every connect of a device is on another broker than its last.
func connectRate(b *testing.B, f *fleet, brokers []*server, certs []tls.Certificate, ids []string, workers int, d time.Duration) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += workers {
				k := i % len(certs)
				code, err := f.connect(brokers[(i/len(certs))%len(brokers)], certs[k], ids[k])
				if err != nil || code != 0 {
					b.Errorf("connect %s: code %d, %v", ids[k], code, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// BenchmarkRegistryConnect compares connects per second of one broker on
// the embedded bbolt registry and one on a 3-member etcd cluster (with its
// local copy), in alternating rounds of the same run on the same client.
// Run with `make bench-cluster`.
func BenchmarkRegistryConnect(b *testing.B) {
	const devices, workers, rounds = 40, 4, 5
	round := 2 * time.Second

	bolt := &fleet{}
	bolt.api = startServer(b, b.TempDir())
	bolt.brokers = []*server{bolt.api}
	etcd := startFleet(b, 2)
	for _, f := range []*fleet{bolt, etcd} {
		if f.roots == nil {
			f.roots = pki.ReadPool(b, f.api.CAFile("root.crt"))
		}
	}
	setup := func(f *fleet) ([]tls.Certificate, []string) {
		admin := adminClient(b, f.api)
		var certs []tls.Certificate
		var ids []string
		for i := range devices {
			id := fmt.Sprintf("bench-%03d", i)
			certs = append(certs, benchDevice(b, admin, id))
			ids = append(ids, id)
		}
		return certs, ids
	}
	boltCerts, boltIDs := setup(bolt)
	etcdCerts, etcdIDs := setup(etcd)
	connectRate(b, bolt, bolt.brokers, boltCerts, boltIDs, workers, 500*time.Millisecond) // warm-up
	connectRate(b, etcd, etcd.brokers, etcdCerts, etcdIDs, workers, 500*time.Millisecond)

	// Three contenders in rotating order: bbolt; etcd with each device
	// reconnecting to the broker it was on; etcd with every connect on the
	// other broker (each one a session claim written to etcd).
	var boltRates, etcdRates, movingRates, ratios, movingRatios []float64
	for r := range rounds {
		var br, er, mr float64
		runs := []func(){
			func() { br = connectRate(b, bolt, bolt.brokers, boltCerts, boltIDs, workers, round) },
			func() { er = connectRate(b, etcd, etcd.brokers[:1], etcdCerts, etcdIDs, workers, round) },
			func() { mr = connectRate(b, etcd, etcd.brokers, etcdCerts, etcdIDs, workers, round) },
		}
		for j := range runs {
			runs[(j+r)%len(runs)]()
		}
		boltRates, etcdRates, movingRates = append(boltRates, br), append(etcdRates, er), append(movingRates, mr)
		ratios, movingRatios = append(ratios, er/br), append(movingRatios, mr/br)
		b.Logf("round %d: bbolt %.0f connects/s, etcd %.0f (ratio %.2f), etcd moving between brokers %.0f (ratio %.2f)",
			r+1, br, er, er/br, mr, mr/br)
	}
	b.ReportMetric(medianOf(boltRates), "bolt-connects/s")
	b.ReportMetric(medianOf(etcdRates), "etcd-connects/s")
	b.ReportMetric(medianOf(movingRates), "etcd-moving-connects/s")
	b.ReportMetric(medianOf(ratios), "etcd/bolt")
	b.ReportMetric(medianOf(movingRatios), "moving/bolt")
}

// BenchmarkRevocationFanout measures, over a 3-member etcd cluster and
// three brokers, how long after an operator's revoke request (to the API
// process) the broker a device is on closes its connection: p50 and p99
// over 100 devices spread over the brokers. The time counts the API
// request, the etcd commit, the watch and the drop.
func BenchmarkRevocationFanout(b *testing.B) {
	const devices = 100
	f := startFleet(b, 3)
	admin := adminClient(b, f.api)
	var delays []float64
	for i := range devices {
		id := fmt.Sprintf("fan-%03d", i)
		cert := benchDevice(b, admin, id)
		c, code, err := f.open(f.brokers[i%len(f.brokers)], cert, id)
		if err != nil || code != 0 {
			b.Fatalf("connect %s: %d %v", id, code, err)
		}
		closed := make(chan time.Time, 1)
		go func() {
			for {
				if _, err := c.next(); err != nil {
					closed <- time.Now()
					return
				}
			}
		}()
		start := time.Now()
		if _, err := admin.Revoke(context.Background(), id, "bench"); err != nil {
			b.Fatal(err)
		}
		delays = append(delays, float64((<-closed).Sub(start).Microseconds())/1000)
		c.Close()
	}
	slices.Sort(delays)
	p := func(q float64) float64 { return delays[min(len(delays)-1, int(q*float64(len(delays))))] }
	b.Logf("revocation fan-out over %d brokers, %d devices spread over them: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		len(f.brokers), devices, p(0.50), p(0.99), delays[len(delays)-1])
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 { // the middle two's mean, not the upper one
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
