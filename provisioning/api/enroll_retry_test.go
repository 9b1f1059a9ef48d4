package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// etcdRegistry opens registries on c, each under a prefix of its own.
func etcdRegistry(c *etcdtest.Cluster) func(t testing.TB) *store.DB {
	n := 0
	return func(t testing.TB) *store.DB {
		n++
		db, err := store.OpenEtcd(store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: fmt.Sprintf("/api%d", n)}, store.Options{})
		if err != nil {
			t.Fatalf("open etcd registry: %v", err)
		}
		return db
	}
}

// TestTokenRetry: a device whose enrollment answer was lost after its token
// was spent sends the same request again and gets the same certificate,
// over HTTPS, on bbolt and on etcd; the spent token still refuses another
// key and another device.
func TestTokenRetry(t *testing.T) {
	c := etcdtest.Start(t, 1)
	for _, reg := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"bolt", nil}, {"etcd", etcdRegistry(c)}} {
		t.Run(reg.name, func(t *testing.T) {
			e := apitest.Start(t, apitest.Options{Registry: reg.open})
			tokenRetry(t, e)
		})
	}
}

func tokenRetry(t *testing.T, e *apitest.Env) {
	dev := deviceClient(t, e)
	tokens := tokenGroup(t, e, "sim", 2, time.Hour)
	ctx := testCtx(t)
	key := pki.Key(t)
	req := wire.TokenRequest{Token: tokens[0], DeviceID: "sim-1", CSR: pki.CSRPEM(t, key, "ignored")}
	first, err := dev.EnrollToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	checkEnrolled(t, e, first, "sim-1", &key.PublicKey, store.AttestToken)

	t.Run("ok/same-request", func(t *testing.T) {
		before := take(t, e)
		again, err := dev.EnrollToken(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if again.Serial != first.Serial || again.Certificate != first.Certificate || again.Chain != first.Chain {
			t.Errorf("retry answered serial %s, want the certificate already issued (%s)", again.Serial, first.Serial)
		}
		assertUnchanged(t, e, before) // nothing issued, written or spent
	})
	t.Run("ok/new-csr-same-key", func(t *testing.T) {
		r := req
		r.CSR = pki.CSRPEM(t, key, "another subject")
		again, err := dev.EnrollToken(ctx, r)
		if err != nil || again.Serial != first.Serial {
			t.Fatalf("retry with a new CSR for the same key = %s, %v; want %s", again.Serial, err, first.Serial)
		}
	})
	// A spent token refused: nothing issued, written or spent.
	replayed := func(t *testing.T, req wire.TokenRequest) {
		before := take(t, e)
		_, err := dev.EnrollToken(ctx, req)
		wantRefusal(t, err, http.StatusConflict, wire.CodeTokenReplayed)
		assertUnchanged(t, e, before)
	}
	t.Run("error/another-key", func(t *testing.T) {
		replayed(t, wire.TokenRequest{Token: tokens[0], DeviceID: "sim-1", CSR: pki.CSRPEM(t, pki.Key(t), "ignored")})
	})
	t.Run("error/another-device", func(t *testing.T) {
		replayed(t, wire.TokenRequest{Token: tokens[0], DeviceID: "sim-2", CSR: req.CSR})
	})

	// Requests of one device racing each other, as when a client's timeout
	// fires while the first is still being answered: every one of them
	// gets the one certificate issued.
	t.Run("ok/concurrent-duplicates", func(t *testing.T) {
		key := pki.Key(t)
		req := wire.TokenRequest{Token: tokens[1], DeviceID: "sim-3", CSR: pki.CSRPEM(t, key, "ignored")}
		const n = 8
		got := make([]wire.Issued, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				c := deviceClient(t, e)
				<-start
				got[i], errs[i] = c.EnrollToken(ctx, req)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || got[i].Serial != got[0].Serial {
				t.Errorf("request %d = %s, %v; want %s like the others", i, got[i].Serial, errs[i], got[0].Serial)
			}
		}
		certs, err := e.DB.Certificates(t.Context(), "sim-3")
		if err != nil || len(certs) != 1 {
			t.Fatalf("sim-3 holds %d certificates (%v), want 1", len(certs), err)
		}
	})

	t.Run("error/revoked", func(t *testing.T) {
		if _, err := e.DB.RevokeCertificate(t.Context(), first.Serial, "lost", store.Actor{Name: "test"}); err != nil {
			t.Fatal(err)
		}
		replayed(t, req)
	})
}
