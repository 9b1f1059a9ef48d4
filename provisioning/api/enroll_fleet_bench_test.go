package api_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// benchFleetEnrollment is the "fleet" part of BenchmarkTokenEnrollment:
// enrolments as bench-100k's devices make them, each over a TLS connection
// of its own (the agent closes its enrollment connection), from 64 and 512
// devices at once, on a bbolt file and on a one-member etcd (its data
// where TMPDIR points: make bench-enrol puts it in /dev/shm, as
// bench-100k does). Besides enrolments/s and latency it reports what one
// enrolment costs the registry: etcd round trips (reads and commits),
// commits, and transactions run again after a conflict.
func benchFleetEnrollment(b *testing.B) {
	// One cluster for every run: a sub-benchmark runs more than once.
	registries := []struct {
		name string
		open func(t testing.TB) *store.DB
	}{
		{"bolt", nil},
		{"etcd", etcdRegistry(etcdtest.Start(b, 1))},
	}
	for _, reg := range registries {
		for _, devices := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/devices=%d", reg.name, devices), func(b *testing.B) {
				// Errors only: a failed enrolment's cause is in the server's log.
				logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
				e := apitest.Start(b, apitest.Options{Config: api.Config{Logger: logger}, Registry: reg.open})
				fleetEnrol(b, e, devices)
			})
		}
	}
}

// fleetEnrol enrols b.N devices, devices at a time, each on a new TLS
// connection, and reports the rates.
func fleetEnrol(b *testing.B, e *apitest.Env, devices int) {
	tokens := benchTokens(b, e, b.N)
	csr := pki.CSRPEM(b, pki.Key(b), "ignored")
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(wire.TokenRequest{Token: tokens[i], DeviceID: fmt.Sprintf("fleet-%d", i), CSR: csr})
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.CA.RootPool(), MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true, MaxConnsPerHost: 0,
	}}
	latencies := make([]time.Duration, b.N)
	before := e.DB.Health()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range min(devices, b.N) {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < b.N; n = int(next.Add(1) - 1) {
				t0 := time.Now()
				resp, err := client.Post(e.URL+wire.PathToken, "application/json", bytes.NewReader(bodies[n]))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("status %d: %s", resp.StatusCode, body)
					return
				}
				latencies[n] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after := e.DB.Health()
	per := func(v uint64) float64 { return float64(v) / float64(b.N) }
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "enrollments/s")
	b.ReportMetric(float64(latencies[b.N/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(latencies[b.N*99/100].Milliseconds()), "p99-ms")
	if after.Backend == "etcd" {
		b.ReportMetric(per(after.Requests-before.Requests), "etcd-requests/enrollment")
		b.ReportMetric(per(after.Commits-before.Commits), "commits/enrollment")
		b.ReportMetric(float64(after.Conflicts-before.Conflicts), "conflicts")
	}
}
