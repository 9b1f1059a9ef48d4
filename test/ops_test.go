package test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// TestOpsEndpoints: /healthz and /readyz answer, /metrics counts a refusal
// by reason and a revocation drop, and /crl lists a revoked certificate,
// signed by the device CA.
func TestOpsEndpoints(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, s.Ops+p); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}

	cert, key := s.Device("dev-m")
	acert, akey := s.Device("dev-other")
	if out, code := s.pub(t, "dev-m", acert, akey, "-t", "devices/dev-m/x", "-m", "x"); code == 0 {
		t.Fatalf("spoofed client ID admitted: %s", out)
	}
	sub := s.startSub(t, "dev-m", cert, key, "-t", "devices/dev-m/#")
	sub.waitFor(t, "received SUBACK")
	certJSON := s.MustCtl("cert", "list", "--device", "dev-m", "--json")
	s.MustCtl("device", "revoke", "dev-m", "--reason", "ops test")
	sub.waitExit(t, 30*time.Second)

	// One token enrollment and one refused token, through the device API.
	s.MustCtl("group", "put", "sim", "--allow-tokens")
	tokFile := t.TempDir() + "/tokens.txt"
	s.MustCtl("token", "create", "--group", "sim", "--count", "1", "--out", tokFile)
	tok, _ := os.ReadFile(tokFile)
	if code, body := enrollToken(t, s, strings.TrimSpace(string(tok)), "sim-1"); code != 201 {
		t.Fatalf("token enrollment: %d %s", code, body)
	}
	if code, _ := enrollToken(t, s, "fgt_"+strings.Repeat("A", 43), "sim-2"); code == 201 {
		t.Fatal("a made-up token enrolled a device")
	}

	_, metrics := httpGet(t, s.Ops+"/metrics")
	for _, want := range []string{
		`fleetgate_broker_connect_refusals_total{reason="client_id_mismatch"} 1`,
		`fleetgate_broker_sessions_dropped_total{reason="device_revoked"} 1`,
		`fleetgate_broker_revocation_disconnect_seconds_count 1`,
		`fleetgate_broker_tls_handshake_seconds_count{result="ok"}`,
		`fleetgate_revocations_total{kind="device",status="revoked"} 1`,
		`fleetgate_revocations_total{kind="certificate",status="revoked"} 1`,
		`fleetgate_enrollment_requests_total{status="201",step="token"} 1`,
		`fleetgate_enrollment_refusals_total{code="token_invalid"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A server without a bus has none to be cut off from.
	if strings.Contains(metrics, "fleetgate_bus_connected") {
		t.Error("/metrics of a server without a bus shows fleetgate_bus_connected")
	}

	code, der := httpGet(t, s.Ops+"/crl")
	if code != 200 {
		t.Fatalf("/crl: %d", code)
	}
	crl, err := x509.ParseRevocationList([]byte(der))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"serial":\s*"([0-9a-f]+)"`).FindStringSubmatch(certJSON)
	if m == nil {
		t.Fatalf("no serial in `cert list --json` output:\n%s", certJSON)
	}
	serial := m[1]
	want, _ := new(big.Int).SetString(serial, 16)
	found := false
	for _, e := range crl.RevokedCertificateEntries {
		found = found || e.SerialNumber.Cmp(want) == 0
	}
	if !found {
		t.Fatalf("revoked serial %s not in the CRL (%d entries)", serial, len(crl.RevokedCertificateEntries))
	}
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// enrollToken posts a token enrollment with a fresh P-256 key.
func enrollToken(t *testing.T, s *server, token, id string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token, "device_id": id, "csr": pki.CSRPEM(t, pki.Key(t), "")})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots()}}}
	resp, err := hc.Post(s.API+"/v1/enroll/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
