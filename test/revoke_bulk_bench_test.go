package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// bulkBenchDevices is how many connected devices BenchmarkBulkRevocation
// revokes: FLEETGATE_BENCH_DEVICES, 10,000 by default.
func bulkBenchDevices(b *testing.B) int { return envCount(b, "FLEETGATE_BENCH_DEVICES", 10000) }

// envCount reads a positive count from the environment variable name,
// def when it is unset; anything else fails b.
func envCount(b testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}

// BenchmarkBulkRevocation connects n devices of one group (spread over the
// brokers), revokes the group with one `fleetgate device revoke --group`
// process and measures from the command's return until the last
// connection is closed, as the clients see it: on the embedded bbolt
// registry (one server), and on a 3-member etcd cluster with three
// brokers. Run with `make bench-revoke`.
func BenchmarkBulkRevocation(b *testing.B) {
	n := bulkBenchDevices(b)
	if soft, _, err := host.RaiseNoFile(uint64(n) + 1024); err != nil || soft < uint64(n)+256 {
		b.Skipf("open-file limit %d (%v) is too low for %d connections", soft, err, n)
	}
	b.Run("bolt", func(b *testing.B) {
		f := &fleet{}
		f.api = startServer(b, b.TempDir())
		f.brokers = []*server{f.api}
		f.roots = pki.ReadPool(b, f.api.CAFile("root.crt"))
		bulkRevokeRun(b, f, n)
	})
	b.Run("etcd-3-brokers", func(b *testing.B) {
		bulkRevokeRun(b, startFleet(b, 3), n)
	})
}

// bulkRevokeRun registers, certifies and connects n devices on f, revokes
// them with one command and reports the times.
func bulkRevokeRun(b *testing.B, f *fleet, n int) {
	admin := adminClient(b, f.api)
	ctx := context.Background()
	ids := make([]string, n)
	var csv strings.Builder
	csv.WriteString("id,group\n")
	for i := range ids {
		ids[i] = fmt.Sprintf("bulk-%05d", i)
		fmt.Fprintf(&csv, "%s,factory-7\n", ids[i])
	}
	if _, err := admin.PutGroup(ctx, "factory-7", wire.GroupRequest{}); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.ImportDevices(ctx, wire.ImportCSV, strings.NewReader(csv.String())); err != nil {
		b.Fatal(err)
	}
	// One key for every device: the benchmark is about sessions, not keys.
	key := pki.Key(b)
	csr := []byte(pki.CSRPEM(b, key, ""))
	certs := make([]tls.Certificate, n)
	start := time.Now()
	parallel(b, n, 8, func(i int) error {
		var err error
		certs[i], err = issueChain(admin, ids[i], key, csr)
		return err
	})
	b.Logf("%d devices registered and certified in %s", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var open atomic.Int64
	var mu sync.Mutex
	var last time.Time
	gone := make(chan struct{})
	conns := make([]*mqttConn, n)
	closeAtCleanup(b, conns)
	parallel(b, n, 16, func(i int) error {
		c, closed, err := openSession(f.brokers[i%len(f.brokers)].MQTT, f.roots, certs[i], ids[i])
		if err != nil {
			return err
		}
		conns[i] = c
		open.Add(1)
		go func() {
			<-closed
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			if open.Add(-1) == 0 {
				close(gone)
			}
		}()
		return nil
	})
	b.Logf("%d sessions open over %d broker(s) in %s", n, len(f.brokers), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	out := f.api.MustCtl("device", "revoke", "--group", "factory-7", "--reason", "factory batch compromised", "--timeout", "10m")
	returned := time.Now()
	stillOpen := open.Load()
	select {
	case <-gone:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d sessions still open 2 min after the revocation", open.Load(), n)
	}
	mu.Lock()
	tail := max(0, last.Sub(returned))
	mu.Unlock()
	b.Logf("%s: command %s; %d of %d sessions still open at its return; last one gone %s after it; %s",
		b.Name(), returned.Sub(start).Round(time.Millisecond), stillOpen, n, tail.Round(time.Millisecond), strings.TrimSpace(out))
	b.ReportMetric(float64(returned.Sub(start).Milliseconds()), "command-ms")
	b.ReportMetric(float64(tail.Milliseconds()), "last-drop-after-return-ms")
}

// closeAtCleanup closes the connections of conns (filled later) when
// the benchmark ends.
func closeAtCleanup(b testing.TB, conns []*mqttConn) {
	b.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
}

// parallel runs fn for 0..n-1 on workers goroutines and fails b on the
// first error.
func parallel(b *testing.B, n, workers int, fn func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && firstErr.Load() == nil; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("item %d: %w", i, err))
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
}
