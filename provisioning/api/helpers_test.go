package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
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
func newCSR(t testing.TB, cn string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key := pki.Key(t)
	return []byte(pki.CSRPEM(t, key, cn)), key
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
	after := unchangedBut(t, e, before)
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
