package broker

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// benchLimits is the broker configuration of BenchmarkLimitsFlood: every
// limit on, at values a fleet of devices reporting once a second would
// choose.
var benchLimits = Limits{
	PublishRate: 10, PublishBurst: 20, ConnectsPerMinute: 30,
	HandshakeRate: 20, HandshakeBurst: 40,
}

// limitFleet is a started broker with limits over a real registry and CA,
// and the devices' client certificates.
type limitFleet struct {
	b         testing.TB
	br        *Broker
	addr      string
	metrics   *Metrics
	authority *ca.CA
	db        *store.DB
	key       crypto.Signer // one key for every device: key generation is not what is measured
}

func newLimitFleet(b *testing.B) *limitFleet {
	b.Helper()
	m := NewMetrics(nil)
	br, db, authority := startBenchBroker(b, func(c *Config) { c.Limits, c.Metrics = benchLimits, m })
	return &limitFleet{b: b, br: br, addr: br.Addr().String(), metrics: m, authority: authority, db: db, key: pki.Key(b)}
}

// startBenchBroker starts a broker on 127.0.0.1:0 over a fresh registry
// and CA, logging nowhere; adjust may change its Config.
func startBenchBroker(b *testing.B, adjust func(*Config)) (*Broker, *store.DB, *ca.CA) {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), "r.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	authority, _, err := ca.Bootstrap(b.TempDir(), ca.BootstrapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{
		Addr:           "127.0.0.1:0",
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return authority.ServerCertificate(), nil },
		ClientCAs:      authority.DevicePool(),
		Logger:         slog.New(slog.DiscardHandler),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	br, err := New(cfg, db)
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	return br, db, authority
}

// benchDevice registers d and issues it a certificate for key.
func benchDevice(b testing.TB, db *store.DB, authority *ca.CA, key crypto.Signer, d store.Device) *x509.Certificate {
	b.Helper()
	if _, err := db.CreateDevice(b.Context(), d, actor); err != nil {
		b.Fatal(err)
	}
	serial, err := db.AllocateSerial(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	cert, err := authority.IssueDevice(pki.CSR(b, key, d.ID), d.ID, serial, 0)
	if err != nil {
		b.Fatal(err)
	}
	err = db.AddCertificate(b.Context(), store.Certificate{
		Serial: ca.SerialHex(cert), Fingerprint: ca.Fingerprint(cert), DeviceID: d.ID,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Attestation: store.AttestOperator, DER: cert.Raw,
	}, actor)
	if err != nil {
		b.Fatal(err)
	}
	return cert
}

// devices registers ids (subscribe grants sub) and returns their client
// TLS configurations, in the order of ids.
func (f *limitFleet) devices(ids []string, sub []string) []*tls.Config {
	f.b.Helper()
	out := make([]*tls.Config, len(ids))
	for i, id := range ids {
		cert := benchDevice(f.b, f.db, f.authority, f.key, store.Device{ID: id, Subscribe: sub})
		out[i] = &tls.Config{
			RootCAs: f.authority.RootPool(), ServerName: "127.0.0.1",
			Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: f.key, Leaf: cert}},
		}
	}
	return out
}

// dial connects id from the loopback address ip.
func (f *limitFleet) dial(ctx context.Context, ip string, cfg *tls.Config, id string) (*mqttwire.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return mqttwire.Dial(ctx, d, f.addr, cfg, id, 60)
}

// ids returns n device IDs with prefix.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// fleetIP spreads device i over its own loopback address, as devices in
// the field each have their own: the per-source limit is per address.
func fleetIP(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

// samples collects durations per condition (calm, flood) while a round of
// that condition is being measured; between rounds it drops them.
type samples struct {
	mu    sync.Mutex
	phase int // -1: between rounds
	by    [2][]time.Duration
}

func (s *samples) set(phase int) {
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	if s.phase >= 0 {
		s.by[s.phase] = append(s.by[s.phase], d)
	}
	s.mu.Unlock()
}

// p99 returns the 99th percentile of a condition and its sample count.
func (s *samples) p99(phase int) (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := slices.Clone(s.by[phase])
	if len(v) == 0 {
		return 0, 0
	}
	slices.Sort(v)
	return v[min(len(v)-1, len(v)*99/100)], len(v)
}

// alternate runs rounds calm, flood, calm, flood, ...: flood starts the
// flood for a round and returns its stop; each round settles for settle
// before its samples count.
func alternate(b *testing.B, s *samples, rounds int, round, settle time.Duration, flood func() (stop func())) {
	for r := range 2 * rounds {
		cond := r % 2
		stop := func() {}
		if cond == 1 {
			stop = flood()
		}
		time.Sleep(settle)
		s.set(cond)
		time.Sleep(round)
		s.set(-1)
		stop()
		b.Logf("round %d/%d (%s) done", r+1, 2*rounds, map[int]string{0: "calm", 1: "flood"}[cond])
	}
}
