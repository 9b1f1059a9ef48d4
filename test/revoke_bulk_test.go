package test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// holdSession connects a device to addr and returns a channel closed when
// the broker ends the connection.
func holdSession(t testing.TB, addr string, roots *x509.CertPool, cert tls.Certificate, id string) <-chan struct{} {
	t.Helper()
	c, closed, err := openSession(addr, roots, cert, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return closed
}

// openSession is holdSession for callers off the test goroutine: they
// close the connection themselves.
func openSession(addr string, roots *x509.CertPool, cert tls.Certificate, id string) (*mqttConn, <-chan struct{}, error) {
	conf := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
	c, code, err := connectMQTT(addr, conf, id)
	if err != nil || code != 0 {
		if c != nil {
			c.Close()
		}
		return nil, nil, fmt.Errorf("connect %s: code %d, %v", id, code, err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = c.tc.SetReadDeadline(time.Time{}) // keep-alive 60 s: the broker never times us out first
		_, _ = io.Copy(io.Discard, c.tc)
	}()
	return c, closed, nil
}

// TestBulkRevocationDropsGroup: one `fleetgate device revoke --group`
// drops every connected device of the group at once, leaves another
// group's device connected, and the CRL served at the certificates'
// distribution point lists every certificate of the group.
func TestBulkRevocationDropsGroup(t *testing.T) {
	addr := freeLoopbackAddr(t)
	s := startServer(t, t.TempDir(), "--public-url", "http://"+addr, "--revocation-addr", addr)
	roots := pki.ReadPool(t, s.CAFile("root.crt"))
	connect := func(id, group string) (<-chan struct{}, *x509.Certificate) {
		certFile, keyFile := s.Device(id, "--group", group)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return holdSession(t, s.MQTT, roots, pair, id), pki.ReadCert(t, certFile)
	}
	var closed []<-chan struct{}
	var leaves []*x509.Certificate
	for i := range 4 {
		c, leaf := connect(fmt.Sprintf("batch7-%d", i), "batch-7")
		closed, leaves = append(closed, c), append(leaves, leaf)
	}
	bystander, _ := connect("batch8-0", "batch-8")

	out := s.MustCtl("device", "revoke", "--group", "batch-7", "--reason", "factory batch compromised")
	if !strings.Contains(out, "4 devices selected, 4 revoked now") || !strings.Contains(out, "in force on 1 of 1 brokers") {
		t.Fatalf("output: %s", out)
	}
	for i, c := range closed {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("batch7-%d still connected 10 s after the bulk revocation", i)
		}
	}
	for _, leaf := range leaves {
		// The responder has applied the change once it logs it.
		s.Logs.Await(t, 10*time.Second, "revocation status changed", "serial="+strings.ToLower(leaf.SerialNumber.Text(16)))
	}
	crl := fetchCRL(t, leaves[0].CRLDistributionPoints[0])
	listed := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		listed[e.SerialNumber.Text(16)] = true
	}
	for _, leaf := range leaves {
		if !listed[leaf.SerialNumber.Text(16)] {
			t.Errorf("CRL does not list %x", leaf.SerialNumber)
		}
	}
	select {
	case <-bystander:
		t.Fatal("the other group's device was dropped too")
	default:
	}
	if audit := s.MustCtl("audit", "--action", "devices.revoke_bulk"); !strings.Contains(audit, "selected=4 revoked=4") {
		t.Fatalf("audit log: %s", audit)
	}
}

// fetchCRL downloads and parses a DER CRL.
func fetchCRL(t *testing.T, url string) *x509.RevocationList {
	t.Helper()
	crl, err := x509.ParseRevocationList(fetch(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return crl
}
