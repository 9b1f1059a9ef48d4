package api_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
	"github.com/smallstep/pkcs7"
)

// issuedOf is the JSON route's answer for a certificate EST returned.
func issuedOf(e *apitest.Env, leaf *x509.Certificate) wire.Issued {
	pemLeaf := string(ca.EncodeCertPEM(leaf))
	return wire.Issued{
		Serial: ca.SerialHex(leaf), Fingerprint: ca.Fingerprint(leaf),
		Certificate: pemLeaf, Chain: pemLeaf + string(e.CA.DeviceChainPEM()),
	}
}

// estPost posts body to an EST operation, with Basic credentials when
// user is set and the client certificate cert when not nil.
func estPost(t *testing.T, e *apitest.Env, op, user, pass string, cert *tls.Certificate, body []byte) (int, http.Header, string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: e.CA.RootPool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+wire.PathEST+"/"+op, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/pkcs10")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// b64CSR is a base64 PKCS#10 body for a fresh key.
func b64CSR(t *testing.T, cn string) []byte {
	return []byte(base64.StdEncoding.EncodeToString(pki.CSR(t, pki.Key(t), cn).Raw))
}

// TestESTRefusals proves each refusal has the status RFC 7030 expects,
// a readable text/plain reason, and writes nothing.
func TestESTRefusals(t *testing.T) {
	e := apitest.Start(t, apitest.Options{Config: api.Config{}})
	tokens := tokenGroup(t, e, "est", 3, time.Hour)
	if _, err := e.DB.PutGroup(t.Context(), store.Group{Name: "tpm-only", RequireTPM: true}, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	// One enrolled device, for the re-enrolment refusals and the replay.
	key := pki.Key(t)
	status, _, body := estPost(t, e, wire.ESTSimpleEnroll, "est-1", tokens[0], nil,
		[]byte(base64.StdEncoding.EncodeToString(pki.CSR(t, key, "est-1").Raw)))
	if status != http.StatusOK {
		t.Fatalf("enrol: %d %s", status, body)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		t.Fatal(err)
	}
	leaf := pkcs7Leaf(t, der)
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}

	// A CSR whose signature was made by another key than the one it names.
	mismatched := pki.CSR(t, pki.Key(t), "est-1")
	bad := bytes.Clone(mismatched.Raw)
	bad[len(bad)-5] ^= 0xff

	cases := []struct {
		name, op, user, pass string
		cert                 *tls.Certificate
		label                string
		body                 []byte
		status               int
		code                 wire.Code
	}{
		{name: "error/no credentials", op: wire.ESTSimpleEnroll, body: b64CSR(t, "est-2"), status: 401, code: wire.CodeUnauthenticated},
		{name: "error/replayed token", op: wire.ESTSimpleEnroll, user: "est-2", pass: tokens[0], body: b64CSR(t, "est-2"), status: 401, code: wire.CodeTokenReplayed},
		{name: "error/not a token", op: wire.ESTSimpleEnroll, user: "est-2", pass: "secret", body: b64CSR(t, "est-2"), status: 401, code: wire.CodeTokenInvalid},
		{name: "error/wrong group", op: "tpm-only/" + wire.ESTSimpleEnroll, user: "est-2", pass: tokens[1], body: b64CSR(t, "est-2"), status: 403, code: wire.CodePolicy},
		{name: "error/malformed PKCS#10", op: wire.ESTSimpleEnroll, user: "est-2", pass: tokens[1], body: []byte("MIIBnotacsr"), status: 400, code: wire.CodeBadRequest},
		{name: "error/not base64", op: wire.ESTSimpleEnroll, user: "est-2", pass: tokens[1], body: []byte("-----BEGIN CERTIFICATE REQUEST-----"), status: 400, code: wire.CodeBadRequest},
		{name: "error/bad device ID", op: wire.ESTSimpleEnroll, user: "bad/id", pass: tokens[1], body: b64CSR(t, "x"), status: 400, code: wire.CodeBadRequest},
		{name: "error/re-enrol without certificate", op: wire.ESTSimpleReenroll, body: b64CSR(t, "est-1"), status: 401, code: wire.CodeUnauthenticated},
		{name: "error/re-enrol CSR key mismatch", op: wire.ESTSimpleReenroll, cert: cert, body: []byte(base64.StdEncoding.EncodeToString(bad)), status: 400, code: wire.CodeCSRSignature},
		{name: "error/re-enrol wrong group", op: "tpm-only/" + wire.ESTSimpleReenroll, cert: cert, body: b64CSR(t, "est-1"), status: 403, code: wire.CodePolicy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := take(t, e)
			status, h, body := estPost(t, e, c.op, c.user, c.pass, c.cert, c.body)
			if status != c.status || !strings.HasPrefix(body, string(c.code)+": ") {
				t.Fatalf("answer = %d %q, want %d %s", status, body, c.status, c.code)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ct)
			}
			if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", h.Get("WWW-Authenticate"))
			}
			unchangedBut(t, e, before)
		})
	}
	// The token refused for the wrong group is still good for its own.
	if status, _, body := estPost(t, e, "est/"+wire.ESTSimpleEnroll, "est-2", tokens[1], nil, b64CSR(t, "est-2")); status != http.StatusOK {
		t.Fatalf("enrol with the token refused elsewhere: %d %s", status, body)
	}
}

// pkcs7Leaf is the one certificate of a certs-only PKCS#7.
func pkcs7Leaf(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(p7.Certificates) != 1 {
		t.Fatalf("PKCS#7 holds %d certificates, want the issued one alone", len(p7.Certificates))
	}
	return p7.Certificates[0]
}
