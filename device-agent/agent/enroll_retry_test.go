package agent

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// lossyAPI is an HTTPS front for the real provisioning API that passes
// every request on and, for the first token enrollment, throws the answer
// away and closes the connection: the certificate is issued and the token
// spent, and the device never hears of it.
type lossyAPI struct {
	*httptest.Server
	lost atomic.Int64 // answers thrown away
}

func newLossyAPI(t *testing.T, api string, roots *x509.CertPool) *lossyAPI {
	t.Helper()
	upstream := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	l := &lossyAPI{}
	l.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, api+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := upstream.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if r.URL.Path == wire.PathToken && l.lost.CompareAndSwap(0, 1) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(l.Close)
	return l
}

// TestEnrollRetryAfterLostAnswer: the answer to a token enrollment is lost
// after the service issued the certificate and spent the token. The agent
// retries with the same key, gets the certificate that was issued, and
// connects with it; a retry with a new key would be token_replayed and
// leave the device needing a new token.
func TestEnrollRetryAfterLostAnswer(t *testing.T) {
	srv := newServer(t)
	front := newLossyAPI(t, srv.API, srv.Roots())
	roots := srv.Roots().Clone()
	roots.AddCert(front.Certificate())

	ev := newEvents()
	cfg := softwareConfig(t, srv, "lost-1", srv.Token("boards"), ev)
	cfg.ProvisioningURL, cfg.RootCAs = front.URL, roots
	start(t, cfg)

	enrolled := await(t, ev.enrolled, "enrollment")
	if front.lost.Load() != 1 {
		t.Fatalf("the front lost %d answers, want 1", front.lost.Load())
	}
	if got := await(t, ev.connected, "connection"); got != enrolled.Serial {
		t.Errorf("connected with serial %q, enrolled %q", got, enrolled.Serial)
	}
	// One certificate was issued for the device: the retry got it, not a
	// second one.
	if out := srv.MustCtl("device", "show", "lost-1"); bytes.Count([]byte(out), []byte(enrolled.Serial)) != 1 {
		t.Errorf("device certs:\n%s\nwant one row for %s", out, enrolled.Serial)
	}
}
