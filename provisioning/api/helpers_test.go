package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// testCtx bounds each test's calls generously: slow machines must not fail.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newCSR returns a PEM CSR for a fresh P-256 key, and the key.
func newCSR(t *testing.T, cn string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

// parsePEMCerts parses every CERTIFICATE block in data.
func parsePEMCerts(t *testing.T, data string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	rest := []byte(data)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// snapshot is the registry state a refused request must leave alone.
type snapshot struct {
	devices []store.Device
	certs   []store.Certificate
	audit   int
	serial  *big.Int // a serial allocated when the snapshot was taken
}

func take(t *testing.T, e *apitest.Env) snapshot {
	t.Helper()
	devices, err := e.DB.Devices(t.Context(), store.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := e.DB.Certificates(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.DB.Audit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	serial, err := e.DB.AllocateSerial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{devices: devices, certs: certs, audit: len(events), serial: serial}
}

// assertUnchanged fails unless the registry equals before: same devices and
// certificates (with their statuses), no audit event, and no serial
// allocated in between (the serial's high 64 bits are a counter).
func assertUnchanged(t *testing.T, e *apitest.Env, before snapshot) {
	t.Helper()
	after := take(t, e)
	if !sameJSON(before.devices, after.devices) {
		t.Errorf("devices changed:\nbefore %+v\nafter  %+v", before.devices, after.devices)
	}
	if !sameJSON(before.certs, after.certs) {
		t.Errorf("certificates changed: before %d, after %d", len(before.certs), len(after.certs))
	}
	if after.audit != before.audit {
		t.Errorf("audit log grew from %d to %d events", before.audit, after.audit)
	}
	counterBefore := new(big.Int).Rsh(before.serial, 64)
	counterAfter := new(big.Int).Rsh(after.serial, 64)
	if want := new(big.Int).Add(counterBefore, big.NewInt(1)); counterAfter.Cmp(want) != 0 {
		t.Errorf("serial counter went from %s to %s: a serial was allocated in between", counterBefore, counterAfter)
	}
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// raw sends a hand-made request as the admin operator, for bodies the
// client would never produce, and decodes a refusal.
func raw(t *testing.T, e *apitest.Env, method, path string, body []byte) (int, wire.ErrorBody) {
	t.Helper()
	status, data := rawAnswer(t, e, method, path, body)
	var eb wire.ErrorBody
	if status >= 400 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: error body is not JSON: %q", method, path, data)
		}
	}
	return status, eb
}

// rawAnswer sends a hand-made request as the admin operator and returns
// the answer's status and body as sent.
func rawAnswer(t *testing.T, e *apitest.Env, method, path string, body []byte) (int, []byte) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: e.AdminTLS}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(testCtx(t), method, e.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// mustRegister registers a device or fails the test.
func mustRegister(t *testing.T, e *apitest.Env, id string) wire.Device {
	t.Helper()
	d, err := e.Admin.RegisterDevice(testCtx(t), wire.RegisterRequest{ID: id})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
	return d
}

// mustIssue issues a certificate for a fresh key or fails the test.
func mustIssue(t *testing.T, e *apitest.Env, id string) wire.Issued {
	t.Helper()
	csr, _ := newCSR(t, id)
	issued, err := e.Admin.IssueCertificate(testCtx(t), id, csr, 0)
	if err != nil {
		t.Fatalf("issue for %s: %v", id, err)
	}
	return issued
}
