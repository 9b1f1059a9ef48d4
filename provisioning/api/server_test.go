package api_test

import (
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestServer runs the API the way the server binary does, through
// Server and ServeTLS with no certificate files, and calls it as an
// operator.
func TestServer(t *testing.T) {
	dir := t.TempDir()
	authority, _, err := ca.Bootstrap(filepath.Join(dir, "ca"), ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := api.New(db, authority, api.Config{}).Server("127.0.0.1:0")
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	tlsCfg, err := client.LoadTLS(filepath.Join(dir, "ca", ca.AdminCertFile), filepath.Join(dir, "ca", ca.AdminKeyFile), filepath.Join(dir, "ca", ca.RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New("https://"+ln.Addr().String(), tlsCfg)
	d, err := c.RegisterDevice(testCtx(t), wire.RegisterRequest{ID: "sensor-1"})
	if err != nil || d.Status != wire.DeviceActive {
		t.Fatalf("register through Server = %+v, %v", d, err)
	}
	c.CloseIdleConnections()

	if err := srv.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("ServeTLS returned %v, want ErrServerClosed", err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}
