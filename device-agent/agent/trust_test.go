package agent

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestRefreshTrust feeds the agent's trust refresh bundles from an API
// that serves whatever the test says: it keeps only a bundle signed by a
// root it holds and newer than the one it has, and logs each refusal.
func TestRefreshTrust(t *testing.T) {
	api, serving := bundleAPI(t)
	apiCert := api.Certificate() // self-signed CA: the API's own root
	held := pki.NewCA(t, "held root")
	stranger := pki.NewCA(t, "held root") // same name, another key
	bundle := func(seq uint64, by *pki.CA) []byte { return signedBundle(t, seq, by, apiCert) }

	roots := held.Pool()
	roots.AddCert(apiCert)
	log, logs := logbuf.Logger(t, "agent log")
	cfg := DefaultConfig()
	cfg.DeviceID, cfg.ProvisioningURL, cfg.Broker = "trust-1", api.URL, "127.0.0.1:1"
	cfg.RootCAs, cfg.KeySource, cfg.Token, cfg.Logger = roots, KeySoftware, "unused", log
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &MemoryState{}
	r := &runner{a: a, cfg: a.cfg, log: a.cfg.Logger, store: store, st: &State{DeviceID: "trust-1"}}

	for _, step := range []struct {
		name  string
		serve []byte
		want  error
		seq   uint64 // sequence of the bundle stored after the step; 0: none
	}{
		{"error/signed by an unknown key", bundle(5, stranger), trustbundle.ErrUnknownSigner, 0},
		{"error/malformed", []byte(`{"payload":"e30=","algorithm":"ECDSA-SHA256"}`), trustbundle.ErrMalformed, 0},
		{"ok/signed by the held root", bundle(2, held), nil, 2},
		{"ok/the same bundle again", nil, nil, 2}, // nil: serve the previous one
		{"error/replayed older bundle", bundle(1, held), trustbundle.ErrStale, 2},
	} {
		if step.serve != nil {
			*serving = step.serve
		}
		err := r.refreshTrust(t.Context())
		if step.want == nil && err != nil || step.want != nil && (!errors.Is(err, step.want) || !errors.Is(err, ErrTrustBundle)) {
			t.Fatalf("%s: refreshTrust = %v, want %v", step.name, err, step.want)
		}
		if step.want != nil && logs.Count("refused the trust bundle", step.want.Error()) == 0 {
			t.Fatalf("%s: the refusal is not logged:\n%s", step.name, logs.String())
		}
		st, _ := store.Load()
		switch {
		case step.seq == 0 && st != nil && st.TrustBundle != nil:
			t.Fatalf("%s: a refused bundle was stored", step.name)
		case step.seq != 0:
			b, _, err := trustbundle.Parse(st.TrustBundle)
			if err != nil || b.Sequence != step.seq {
				t.Fatalf("%s: stored bundle %v, %v; want sequence %d", step.name, b, err, step.seq)
			}
		}
	}
}

// bundleAPI is a provisioning API that serves, at the trust bundle route,
// whatever the returned slice holds at the time.
func bundleAPI(t *testing.T) (*httptest.Server, *[]byte) {
	var serve []byte
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathTrustBundle {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(serve)
	}))
	t.Cleanup(api.Close)
	return api, &serve
}

// signedBundle is trust bundle seq holding by's root and extra, signed by
// by.
func signedBundle(t *testing.T, seq uint64, by *pki.CA, extra ...*x509.Certificate) []byte {
	raw, err := trustbundle.Sign(seq, time.Now(), append([]*x509.Certificate{by.Cert}, extra...), by.Key, []*x509.Certificate{by.Cert})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
