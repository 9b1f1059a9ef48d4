package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// BenchmarkTokenEnrollment measures token enrollments per second, server
// side, with concurrent devices: "handler" calls the HTTP handler directly
// (no TLS, the server's own work only); "https" goes through TLS on
// loopback with one kept-alive connection per device worker, clients and
// server sharing the machine. Tokens and CSRs are made before the timer
// starts. Every enrollment is fsynced; the registry commits concurrent ones
// together. "fleet" enrols as bench-100k's devices do, on bbolt and on
// etcd (benchFleetEnrollment).
func BenchmarkTokenEnrollment(b *testing.B) {
	b.Run("fleet", benchFleetEnrollment)
	for _, mode := range []string{"handler", "https"} {
		b.Run(mode, func(b *testing.B) {
			e := apitest.Start(b, apitest.Options{Config: api.Config{Logger: discardLogger()}})
			tokens := benchTokens(b, e, b.N)
			csr := pki.CSRPEM(b, pki.Key(b), "ignored")
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i], _ = json.Marshal(wire.TokenRequest{Token: tokens[i], DeviceID: fmt.Sprintf("bench-%d", i), CSR: csr})
			}
			const workers = 32
			var next atomic.Int64
			take := func() int { return int(next.Add(1) - 1) }
			h := api.New(e.DB, e.CA, api.Config{Logger: discardLogger()}).Handler()
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var c *enroll.Client
					if mode == "https" {
						c = enroll.New(e.URL, e.CA.RootPool())
						defer c.CloseIdleConnections()
					}
					for n := take(); n < b.N; n = take() {
						if c != nil {
							var req wire.TokenRequest
							_ = json.Unmarshal(bodies[n], &req)
							if _, err := c.EnrollToken(b.Context(), req); err != nil {
								b.Error(err)
								return
							}
							continue
						}
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, wire.PathToken, bytes.NewReader(bodies[n])))
						if rec.Code != http.StatusCreated {
							b.Errorf("status %d: %s", rec.Code, rec.Body)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enrollments/s")
		})
	}
}

// BenchmarkTPMFinish measures the server's cost of finishing one
// TPM-attested enrollment through the HTTP handler: activation check, AK
// signature, certify checks, CSR checks, serial, signing, recording. The
// attestations are made in software beforehand (soft TPM) and their
// challenges stored. cpu-ns/op is the process CPU time (user and system,
// the registry's fsyncs and the garbage collector included) per
// enrollment; run with -cpu 1 on an idle machine it is the server's.
// "sequential" finishes one enrollment at a time, paying two commits
// (serial, enrollment) each; "concurrent" has 32 devices finish at once,
// sharing commits.
func BenchmarkTPMFinish(b *testing.B) {
	for _, workers := range []int{1, 32} {
		name := "sequential"
		if workers > 1 {
			name = "concurrent"
		}
		b.Run(name, func(b *testing.B) {
			h, bodies := tpmFinishFixture(b)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu0 := cpuTime(b)
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := int(next.Add(1) - 1); n < b.N; n = int(next.Add(1) - 1) {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, wire.PathTPMFinish, bytes.NewReader(bodies[n])))
						if rec.Code != http.StatusCreated {
							b.Errorf("status %d: %s", rec.Code, rec.Body)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "enrollments/s")
		})
	}
}

// tpmFinishFixture stores b.N enrollment challenges of one pre-registered
// device and returns the handler and a correct finish body for each.
func tpmFinishFixture(b *testing.B) (http.Handler, [][]byte) {
	b.Helper()
	m := softtpm.NewManufacturer(b)
	e := tpmEnv(b, m, api.Config{Logger: discardLogger()})
	s := softtpm.New(b)
	preRegister(b, e, "tpm-1", &s.EK.PublicKey)
	ekHash, _ := attest.EKHash(&s.EK.PublicKey)
	key := pki.Key(b)
	csr := pki.CSRPEM(b, key, "ignored")
	bodies := make([][]byte, b.N)
	challenges := make([]store.Challenge, b.N)
	for i := range challenges {
		ch := store.Challenge{DeviceID: "tpm-1", Purpose: store.PurposeEnroll, EKHash: ekHash, AKPublic: s.AKPublic,
			Secret: randomBytes(b, 32), Nonce: randomBytes(b, 32), ExpiresAt: time.Now().Add(time.Hour)}
		ch.ID = fmt.Sprintf("%032x", randomBytes(b, 16))
		kp, att, sig := s.Certify(b, &key.PublicKey, softtpm.Attrs(false), ch.Nonce)
		bodies[i], _ = json.Marshal(wire.TPMFinishRequest{ChallengeID: ch.ID, Secret: ch.Secret, KeyPublic: kp, Attestation: att, Signature: sig, CSR: csr})
		challenges[i] = ch
	}
	putAll(b, e, challenges)
	return api.New(e.DB, e.CA, api.Config{Logger: discardLogger()}).Handler(), bodies
}

// benchTokens makes n tokens for a fresh token group.
func benchTokens(b *testing.B, e *apitest.Env, n int) []string {
	b.Helper()
	if _, err := e.DB.PutGroup(b.Context(), store.Group{Name: "bench", AllowTokens: true}, store.Actor{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	var out []string
	for len(out) < n {
		batch, err := e.DB.CreateTokens(b.Context(), "bench", min(n-len(out), store.MaxTokens), time.Hour, store.Actor{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, batch...)
	}
	return out
}

// putAll stores challenges from many goroutines, so that the registry
// commits them in batches.
func putAll(b *testing.B, e *apitest.Env, chs []store.Challenge) {
	b.Helper()
	var wg sync.WaitGroup
	work := make(chan store.Challenge)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range work {
				if err := e.DB.PutChallenge(b.Context(), ch); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, ch := range chs {
		work <- ch
	}
	close(work)
	wg.Wait()
}

func randomBytes(b *testing.B, n int) []byte {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
