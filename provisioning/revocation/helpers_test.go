package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// env is a responder over a real registry and CA behind a real HTTP
// listener, following the change feed.
type env struct {
	db      *store.DB
	ca      *ca.CA
	current atomic.Pointer[ca.CA] // what the responder's Authority returns
	rsp     *Responder
	url     string
	changes chan store.Change // what the responder applied, in order
	next    int64             // next serial
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	authority, _, err := ca.Bootstrap(filepath.Join(dir, "ca"), ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{db: db, ca: authority, changes: make(chan store.Change, 1024), next: 1}
	e.current.Store(authority)
	e.rsp, err = New(Config{
		Authority: e.current.Load,
		Registry:  db,
		OnChange:  func(ch store.Change) { e.changes <- ch },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := e.rsp.Follow(ctx)
	done := make(chan struct{})
	go func() { defer close(done); run() }()
	srv := httptest.NewServer(e.rsp)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	e.url = srv.URL
	return e
}

// reload loads the CA directory again and hands it to the responder, as
// the server does on SIGHUP.
func (e *env) reload(t testing.TB) {
	t.Helper()
	c, err := ca.Load(e.ca.Dir())
	if err != nil {
		t.Fatal(err)
	}
	e.ca = c
	e.current.Store(c)
}

// device registers id and records a certificate the CA issued to it.
func (e *env) device(t testing.TB, id string) *x509.Certificate {
	t.Helper()
	if _, err := e.db.CreateDevice(t.Context(), store.Device{ID: id}, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	return e.issue(t, id)
}

func (e *env) issue(t testing.TB, id string) *x509.Certificate {
	t.Helper()
	leaf, err := e.ca.IssueDevice(pki.CSR(t, pki.Key(t), id), id, big.NewInt(e.next), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.next++
	err = e.db.AddCertificate(t.Context(), store.Certificate{Serial: ca.SerialHex(leaf), Fingerprint: ca.Fingerprint(leaf),
		DeviceID: id, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, DER: leaf.Raw}, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// await waits until the responder has applied a change about serial.
func (e *env) await(t testing.TB, serial string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ch := <-e.changes:
			if ch.Serial == serial {
				return
			}
		case <-timeout:
			t.Fatalf("the responder did not see a change of %s", serial)
		}
	}
}

// ocspRequest encodes an OCSP request for leaf, with a nonce when one is given.
func ocspRequest(t testing.TB, leaf, issuer *x509.Certificate, nonce []byte) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if nonce == nil {
		return der
	}
	// Re-encode with a requestExtensions field holding the nonce.
	var req struct {
		TBS struct {
			List []asn1.RawValue
			Ext  []pkix.Extension `asn1:"explicit,tag:2,optional"`
		}
	}
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	val, _ := asn1.Marshal(nonce)
	req.TBS.Ext = []pkix.Extension{{Id: oidNonce, Value: val}}
	out, err := asn1.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// post sends an OCSP request by POST and returns the raw response.
func (e *env) post(t testing.TB, der []byte) []byte {
	t.Helper()
	resp, err := http.Post(e.url+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	return body(t, resp)
}

func body(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %s: %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" && ct != "application/pkix-crl" {
		t.Fatalf("Content-Type %q", ct)
	}
	return b
}

// parse checks the signature with the issuer and returns the response.
func parse(t testing.TB, der []byte, leaf, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	r, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	return r
}
