package api_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// pemCerts parses every certificate of a PEM string, in order.
func pemCerts(t *testing.T, s string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := []byte(s); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// GET /v1/ca lists the roots in force: the root alone, then during a root
// rollover the new root followed by the previous one, with Root still
// the current root.
func TestCARoots(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)
	root1 := e.CA.Root()
	got, err := e.Anonymous.CA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if roots := pemCerts(t, got.Roots); len(roots) != 1 || !roots[0].Equal(root1) || got.Root != got.Roots {
		t.Fatalf("outside a rollover: roots %d, root = roots %v", len(roots), got.Root == got.Roots)
	}

	if _, err := ca.BeginRootRollover(e.CADir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	during, err := ca.Load(e.CADir)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	api.New(e.DB, during, api.Config{}).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, wire.PathCA, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s during a rollover: %d %s", wire.PathCA, rec.Code, rec.Body)
	}
	got = wire.CABundle{}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	roots := pemCerts(t, got.Roots)
	if len(roots) != 2 || !roots[0].Equal(during.Root()) || !roots[1].Equal(root1) || roots[0].Equal(root1) {
		t.Fatalf("during a rollover: %d roots, want the new root then the previous one", len(roots))
	}
	if root := pemCerts(t, got.Root); len(root) != 1 || !root[0].Equal(during.Root()) {
		t.Fatal("during a rollover root is not the new root alone")
	}
}
