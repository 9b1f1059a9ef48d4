package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/store"
)

// The etcd_ca, etcd_cert and etcd_key settings reach a cluster that serves
// only TLS clients with a certificate; without the client certificate the
// registry does not open, and says why.
func TestRegistryOnTLSEtcd(t *testing.T) {
	c, files := etcdtest.StartTLS(t, 1)
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Registry = "etcd://" + strings.Join(c.Endpoints(), ",") + "/tls-test"
	cfg.EtcdCA, cfg.EtcdCert, cfg.EtcdKey = files.CA, files.ClientCert, files.ClientKey
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db, err := openRegistry(cfg, nil)
	if err != nil {
		t.Fatalf("open over TLS: %v", err)
	}
	if _, err := db.CreateDevice(t.Context(), store.Device{ID: "tls-1"}, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Device(t.Context(), "tls-1"); err != nil || d.ID != "tls-1" {
		t.Fatalf("Device: %+v %v", d, err)
	}
	db.Close()

	cfg.EtcdCert, cfg.EtcdKey = "", "" // trusts the server, presents nothing
	start := time.Now()
	_, err = openRegistry(cfg, nil)
	if err == nil || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open without a client certificate: %v, want ErrUnavailable", err)
	}
	t.Logf("refused after %s: %v", time.Since(start).Round(time.Millisecond), err)
}
