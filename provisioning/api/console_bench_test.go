package api_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/store"
)

// consoleBenchDevices is the fleet size of the console benchmarks.
const consoleBenchDevices = 100_000

// consolePageGoal is the goal for the server time of one page, p99.
const consolePageGoal = 50 * time.Millisecond

// BenchmarkConsoleDeviceList measures the server time of the console's
// device list over 100,000 devices in a real bbolt registry: the handler
// runs in this process on a request carrying the admin's verified
// certificate, so the time is the server's alone (no TLS, no network).
// Run with make bench-console.
func BenchmarkConsoleDeviceList(b *testing.B) {
	e := apitest.Start(b, apitest.Options{})
	fillFleet(b, e.DB, consoleBenchDevices)
	handler := api.New(e.DB, e.CA, api.Config{}).Handler()
	leaf, err := x509.ParseCertificate(e.AdminTLS.Certificates[0].Certificate[0])
	if err != nil {
		b.Fatal(err)
	}
	state := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	serve := func(query string) time.Duration {
		path := "/console/api/devices?" + query
		switch {
		case query == "":
			path = "/v1/devices" // the reference: the whole list, as the CLI reads it
		case query[0] == '/':
			path = query
		}
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.TLS = state
		w := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(w, r)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", query, w.Code, w.Body)
		}
		return d
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randomID := func() string { return fmt.Sprintf("dev-%06d", rng.IntN(consoleBenchDevices)) }
	cases := []struct {
		name  string
		query func() string
	}{
		// The machine's noise floor: a route that reads no registry. On
		// shared cores its p99 is scheduling delay, which every case
		// below carries too.
		{"noise floor (/console/api/me)", func() string { return "/console/api/me" }},
		{"first page", func() string { return "limit=50" }},
		{"page at a random cursor", func() string { return "limit=50&after=" + randomID() }},
		{"page of 200 (the largest)", func() string { return "limit=200&after=" + randomID() }},
		{"search ID substring", func() string { return "limit=50&q=" + randomID()[4:9] }},
		{"search metadata value", func() string { return fmt.Sprintf("limit=50&q=plant-%d", rng.IntN(100)) }},
		{"filter suspended (1%)", func() string { return "limit=50&status=suspended&after=" + randomID() }},
		{"filter group (1 in 10)", func() string { return "limit=50&group=g3&after=" + randomID() }},
		{"search with no match (scan bound)", func() string { return "limit=50&q=nomatch&after=" + randomID() }},
	}
	const samples = 300
	b.ResetTimer()
	for range b.N {
		// The reference goes last: its garbage would otherwise land on
		// the pages measured after it.
		type result struct{ p50, p99 time.Duration }
		results := make([]result, len(cases))
		for i, c := range cases {
			runtime.GC() // start each case from the same heap
			times := make([]time.Duration, samples)
			for j := range times {
				times[j] = serve(c.query())
			}
			slices.Sort(times)
			results[i] = result{times[samples/2], times[samples*99/100]}
		}
		runtime.GC()
		var whole []time.Duration
		for range 3 {
			whole = append(whole, serve(""))
		}
		slices.Sort(whole)
		reference := whole[1]
		b.Logf("reference: GET /v1/devices, all %d devices in one answer: median of 3 %.1f ms", consoleBenchDevices, ms(reference))
		for i, c := range cases {
			p50, p99 := results[i].p50, results[i].p99
			verdict := "meets"
			if p99 > consolePageGoal {
				verdict = "MISSES"
			}
			b.Logf("%-36s p50 %6.2f ms  p99 %6.2f ms  p99/goal %.2f (%v: %s)  p50/reference %.4f", c.name,
				ms(p50), ms(p99), float64(p99)/float64(consolePageGoal), consolePageGoal, verdict, float64(p50)/float64(reference))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fillFleet registers n devices dev-000000.. in batches: every tenth in
// group g0..g9, metadata site=plant-0..99, one in a hundred suspended.
func fillFleet(b *testing.B, db *store.DB, n int) {
	b.Helper()
	start := time.Now()
	const batch = 10_000
	for g := range 10 {
		if _, err := db.PutGroup(b.Context(), store.Group{Name: fmt.Sprintf("g%d", g)}, store.Actor{Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	for from := 0; from < n; from += batch {
		devs := make([]store.Device, 0, batch)
		for i := from; i < min(n, from+batch); i++ {
			d := store.Device{ID: fmt.Sprintf("dev-%06d", i), Group: fmt.Sprintf("g%d", i%10),
				Metadata: map[string]string{"site": fmt.Sprintf("plant-%d", i%100)}}
			if i%100 == 7 {
				d.Status = store.DeviceSuspended
			}
			devs = append(devs, d)
		}
		if _, _, err := db.ImportDevices(b.Context(), devs, store.Actor{Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("registered %d devices in %s", n, time.Since(start).Round(time.Millisecond))
}
