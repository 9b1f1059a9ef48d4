package api_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// BenchmarkESTEnrollment measures token enrolments per second over EST's
// simpleenroll beside the JSON token route, in the same run against the
// same server: b.N devices on each, 32 workers with one kept-alive TLS
// connection each, tokens and CSRs made before the timer starts. It
// reports both rates and est/json, their ratio (1.0: EST costs nothing
// more).
func BenchmarkESTEnrollment(b *testing.B) {
	e := apitest.Start(b, apitest.Options{Config: api.Config{Logger: discardLogger()}})
	tokens := benchTokens(b, e, 2*b.N)
	csr := pki.CSR(b, pki.Key(b), "ignored")
	csrPEM := pki.CSRPEM(b, pki.Key(b), "ignored")
	estBody := []byte(base64.StdEncoding.EncodeToString(csr.Raw))
	jsonReq := func(n int) *http.Request {
		body, _ := json.Marshal(wire.TokenRequest{Token: tokens[n], DeviceID: fmt.Sprintf("json-%d", n), CSR: csrPEM})
		r, _ := http.NewRequest(http.MethodPost, e.URL+wire.PathToken, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	estReq := func(n int) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, e.URL+wire.PathEST+"/"+wire.ESTSimpleEnroll, bytes.NewReader(estBody))
		r.Header.Set("Content-Type", "application/pkcs10")
		r.SetBasicAuth(fmt.Sprintf("est-%d", n), tokens[b.N+n])
		return r
	}
	b.ResetTimer()
	jsonRate := enrolRate(b, e, jsonReq, http.StatusCreated)
	estRate := enrolRate(b, e, estReq, http.StatusOK)
	b.ReportMetric(jsonRate, "json-enrolments/s")
	b.ReportMetric(estRate, "est-enrolments/s")
	b.ReportMetric(estRate/jsonRate, "est/json")
}

// enrolRate sends b.N requests made by req from 32 workers and returns
// enrolments per second.
func enrolRate(b *testing.B, e *apitest.Env, req func(n int) *http.Request, want int) float64 {
	const workers = 32
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CA.RootPool(), MinVersion: tls.VersionTLS12}}}
			defer c.CloseIdleConnections()
			for n := int(next.Add(1) - 1); n < b.N; n = int(next.Add(1) - 1) {
				resp, err := c.Do(req(n))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Errorf("status %d: %s", resp.StatusCode, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(b.N) / time.Since(start).Seconds()
}
