// Package apitest starts a real operator API for tests: a bbolt registry
// and a CA in t.TempDir(), the API behind real TLS on 127.0.0.1, and an
// authenticated client. Nothing is faked, so tests of the API, the CLI and
// the end-to-end suite exercise the code that ships.
package apitest

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/store"
)

// Options adjust the server a test starts.
type Options struct {
	// Config is passed to api.New.
	Config api.Config
	// TLS, when set, may change the server TLS configuration before the
	// listener starts, for example to add the device CA of authority to
	// ClientCAs.
	TLS func(cfg *tls.Config, authority *ca.CA)
	// Registry, when set, opens the registry instead of a bbolt file in
	// the test's directory (for example on an etcd cluster of etcdtest).
	// Start closes it when the test ends.
	Registry func(t testing.TB) *store.DB
}

// Env is a running operator API and what a test needs to talk to it.
type Env struct {
	DB     *store.DB
	CA     *ca.CA
	CADir  string
	URL    string // https://127.0.0.1:port
	Server *httptest.Server

	// Operator credentials written by ca.Bootstrap.
	AdminCert, AdminKey, RootCert string
	AdminTLS                      *tls.Config
	// Admin is authenticated as the operator "admin"; Anonymous presents no
	// client certificate.
	Admin, Anonymous *client.Client
}

// Start starts the API and stops it, checks the registry's consistency and
// closes it when the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	authority, _, err := ca.Bootstrap(caDir, ca.BootstrapOptions{})
	if err != nil {
		t.Fatalf("bootstrap CA: %v", err)
	}
	var db *store.DB
	if opts.Registry != nil {
		db = opts.Registry(t)
	} else if db, err = store.Open(filepath.Join(dir, "registry.db"), store.Options{}); err != nil {
		t.Fatalf("open registry: %v", err)
	}
	if opts.Config.Logger == nil {
		opts.Config.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	handler := api.New(db, authority, opts.Config).Handler()

	tlsCfg := api.TLSConfig(authority)
	if opts.TLS != nil {
		opts.TLS(tlsCfg, authority)
	}
	// The TLS listener is wrapped by hand instead of using StartTLS, which
	// would add httptest's own certificate ahead of GetCertificate for
	// clients that send no SNI (as with an IP address).
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = tls.NewListener(srv.Listener, tlsCfg)
	srv.Config.ErrorLog = slog.NewLogLogger(opts.Config.Logger.Handler(), slog.LevelDebug)
	srv.Start()

	e := &Env{
		DB: db, CA: authority, CADir: caDir,
		URL:       "https://" + srv.Listener.Addr().String(),
		Server:    srv,
		AdminCert: filepath.Join(caDir, ca.AdminCertFile),
		AdminKey:  filepath.Join(caDir, ca.AdminKeyFile),
		RootCert:  filepath.Join(caDir, ca.RootCertFile),
	}
	e.AdminTLS, err = client.LoadTLS(e.AdminCert, e.AdminKey, e.RootCert)
	if err != nil {
		t.Fatalf("load admin credentials: %v", err)
	}
	e.Admin = client.New(e.URL, e.AdminTLS)
	e.Anonymous = client.New(e.URL, &tls.Config{RootCAs: authority.RootPool(), MinVersion: tls.VersionTLS12})

	t.Cleanup(func() {
		e.Admin.CloseIdleConnections()
		e.Anonymous.CloseIdleConnections()
		srv.Close()
		// A test may have closed the registry itself to provoke failures.
		if err := db.Check(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("registry consistency check: %v", err)
		}
		if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close registry: %v", err)
		}
	})
	return e
}

// testWriter sends server logs to the test log, shown only on failure or
// with -v.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
