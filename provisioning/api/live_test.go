package api_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// liveEnv is the API run as the server binary runs it (Server, ServeTLS),
// over a CA directory a test may change and load again.
type liveEnv struct {
	api   *api.API
	caDir string
	url   string
	admin *client.Client
	root  *tls.Config // trusts the root, presents nothing
	admTL *tls.Config
}

func startLive(t *testing.T) *liveEnv {
	t.Helper()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	authority, _, err := ca.Bootstrap(caDir, ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(db, authority, api.Config{})
	srv := a.Server("127.0.0.1:0")
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() {
		srv.Close()
		if err := db.Check(); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	admTLS, err := client.LoadTLS(filepath.Join(caDir, ca.AdminCertFile), filepath.Join(caDir, ca.AdminKeyFile), filepath.Join(caDir, ca.RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	e := &liveEnv{api: a, caDir: caDir, url: "https://" + ln.Addr().String(), admTL: admTLS,
		root: &tls.Config{RootCAs: authority.RootPool(), MinVersion: tls.VersionTLS12}}
	e.admin = client.New(e.url, admTLS)
	t.Cleanup(e.admin.CloseIdleConnections)
	return e
}

// reload loads the CA directory again and swaps it in, as the server does.
func (e *liveEnv) reload(t *testing.T) {
	t.Helper()
	c, err := ca.Load(e.caDir)
	if err != nil {
		t.Fatal(err)
	}
	e.api.SetCA(c)
}

// issue registers id and issues it a certificate; it returns the TLS
// certificate (leaf and chain as served) and the answer.
func (e *liveEnv) issue(t *testing.T, id string) (*tls.Certificate, wire.Issued) {
	t.Helper()
	if _, err := e.admin.RegisterDevice(testCtx(t), wire.RegisterRequest{ID: id}); err != nil {
		t.Fatal(err)
	}
	csr, key := newCSR(t, id)
	out, err := e.admin.IssueCertificate(testCtx(t), id, csr, 0)
	if err != nil {
		t.Fatal(err)
	}
	chain := pki.ParseCerts(t, []byte(out.Chain))
	cert := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, out
}

// deviceGet calls GET /v1/ca on a new connection presenting cert.
func (e *liveEnv) deviceGet(t *testing.T, cert *tls.Certificate) error {
	t.Helper()
	conf := e.root.Clone()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	c := client.New(e.url, conf)
	defer c.CloseIdleConnections()
	_, err := c.CA(testCtx(t))
	return err
}

// serverSerial is the serial of the server certificate a new connection
// sees.
func (e *liveEnv) serverSerial(t *testing.T) string {
	t.Helper()
	conn, err := tls.Dial("tcp", e.url[len("https://"):], e.root)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return ca.SerialHex(conn.ConnectionState().PeerCertificates[0])
}

// TestSetCA: after SetCA with a rotated, retired or renewed CA directory,
// new certificates come from the new intermediate, devices of a trusted
// older one still pass the handshake and of a retired one no longer do,
// new connections see the renewed server certificate, and a kept-alive
// operator connection is reused throughout.
func TestSetCA(t *testing.T) {
	e := startLive(t)
	oldCert, _ := e.issue(t, "dev-old")
	keep := &http.Client{Transport: &http.Transport{TLSClientConfig: e.admTL.Clone(), ForceAttemptHTTP2: true}}
	t.Cleanup(keep.CloseIdleConnections)
	get := func(wantReused bool) {
		t.Helper()
		reused := false
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}), http.MethodGet, e.url+"/v1/devices", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := keep.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("GET /v1/devices: %s over %s, want 200 over HTTP/2", resp.Status, resp.Proto)
		}
		if reused != wantReused {
			t.Fatalf("connection reused = %v, want %v", reused, wantReused)
		}
	}
	get(false)

	r, err := ca.RotateIntermediate(e.caDir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.reload(t)
	get(true)

	newCert, issued := e.issue(t, "dev-new")
	chain := pki.ParseCerts(t, []byte(issued.Chain))
	if len(chain) != 2 || !chain[1].Equal(r.New) || chain[0].CheckSignatureFrom(r.New) != nil {
		t.Fatal("a certificate issued after the reload does not chain to the new intermediate")
	}
	bundle, err := e.admin.CA(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := pki.ParseCerts(t, []byte(bundle.DeviceCA)); len(got) != 1 || !got[0].Equal(r.New) {
		t.Fatal("GET /v1/ca does not name the new intermediate")
	}
	if err := e.deviceGet(t, oldCert); err != nil {
		t.Fatalf("a device of the trusted old intermediate was refused: %v", err)
	}

	if _, err := ca.RetireIntermediate(e.caDir, ca.SerialHex(r.Old)); err != nil {
		t.Fatal(err)
	}
	e.reload(t)
	if err := e.deviceGet(t, oldCert); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("a device of the retired intermediate: err = %v, want a refused handshake", err)
	}
	if err := e.deviceGet(t, newCert); err != nil {
		t.Fatalf("a device of the new intermediate was refused: %v", err)
	}
	get(true)

	before := e.serverSerial(t)
	renewed, err := ca.RenewServer(e.caDir, nil, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.serverSerial(t) != before {
		t.Fatal("the renewed server certificate was served before the reload")
	}
	e.reload(t)
	if got := e.serverSerial(t); got != ca.SerialHex(renewed) || got == before {
		t.Fatalf("server certificate serial %s after the reload, want the renewed %s", got, ca.SerialHex(renewed))
	}
	get(true)
}

func TestSetDefaultLifetime(t *testing.T) {
	e := startLive(t)
	cases := []struct {
		name string
		d    time.Duration
		want error
	}{
		{"ok/two days", 48 * time.Hour, nil},
		{"error/zero", 0, api.ErrConfig},
		{"error/beyond the maximum", api.DefaultMaxLifetime + time.Hour, api.ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.api.SetDefaultLifetime(tc.d)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	cert, _ := e.issue(t, "short-lived")
	if got := cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore); got < 48*time.Hour || got > 49*time.Hour {
		t.Fatalf("issued for %s, want the 48h set at run time", got)
	}
}
