package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Helpers of the enrollment rows: groups and tokens through the CLI, token
// enrollment through the device client library, and refusal checks.

// enrollClient is a device's client for the enrollment routes.
func (e *attackEnv) enrollClient() *enroll.Client { return enroll.New(e.s.API, e.roots) }

// softGroup creates a group that admits token enrollment.
func (e *attackEnv) softGroup(t *testing.T, name string) {
	t.Helper()
	e.forTest(t).MustCtl("group", "put", name, "--allow-tokens")
}

// tokens creates n enrollment tokens for group through the CLI.
func (e *attackEnv) tokens(t *testing.T, group string, n int, ttl time.Duration) []string {
	t.Helper()
	out := e.forTest(t).MustCtl("token", "create", "--group", group, "--count", itoa(n), "--ttl", ttl.String())
	toks := strings.Fields(out)
	if len(toks) != n {
		t.Fatalf("token create printed %d tokens, want %d:\n%s", len(toks), n, out)
	}
	return toks
}

// csrFor makes a software key and a PEM CSR for device id.
func csrFor(t *testing.T, id string) (tls.Certificate, string) {
	t.Helper()
	key := pki.Key(t)
	csr := pki.CSR(t, key, id)
	return tls.Certificate{PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
}

// enroll enrolls device id with token and a fresh key; the returned
// certificate holds the chain and key on success.
func (e *attackEnv) enroll(t *testing.T, token, id string) (tls.Certificate, error) {
	t.Helper()
	pair, csr := csrFor(t, id)
	return e.enrollCSR(pair, token, id, csr)
}

// enrollCSR sends a token enrollment with a prepared key and CSR. It calls
// no testing function, so goroutines may use it.
func (e *attackEnv) enrollCSR(pair tls.Certificate, token, id, csr string) (tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), attackWait)
	defer cancel()
	issued, err := e.enrollClient().EnrollToken(ctx, wire.TokenRequest{Token: token, DeviceID: id, CSR: csr})
	if err != nil {
		return pair, err
	}
	for rest := []byte(issued.Chain); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		pair.Certificate = append(pair.Certificate, block.Bytes)
	}
	if len(pair.Certificate) == 0 {
		return pair, errors.New("the issued chain holds no certificate")
	}
	pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0])
	return pair, err
}

// expectCode checks that err is a refusal with the given code.
func expectCode(t *testing.T, err error, codes ...wire.Code) {
	t.Helper()
	var refusal *enroll.Error
	if !errors.As(err, &refusal) {
		t.Fatalf("got %v, want a refusal with code %v", err, codes)
	}
	for _, c := range codes {
		if refusal.Code == c {
			t.Logf("refused: HTTP %d %s", refusal.Status, refusal.Code)
			return
		}
	}
	t.Fatalf("refused with code %q (%s), want %v", refusal.Code, refusal.Message, codes)
}

// expectNoDevice checks that the registry does not know id.
func (e *attackEnv) expectNoDevice(t *testing.T, id string) {
	t.Helper()
	if out, _, code := e.forTest(t).Ctl("device", "show", id); code != 3 {
		t.Fatalf("device %s exists after a refused enrollment (exit %d):\n%s", id, code, out)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
