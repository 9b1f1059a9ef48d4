package api_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/console"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

func storeFilter(target string) store.AuditFilter { return store.AuditFilter{Target: target} }

// operatorTLS issues an operator certificate with role and returns TLS
// settings presenting it.
func operatorTLS(t *testing.T, e *apitest.Env, name string, role ca.OperatorRole) *tls.Config {
	t.Helper()
	certPEM, keyPEM, err := e.CA.IssueOperatorRole(name, role, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadTLS(certFile, keyFile, e.RootCert)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// send makes one request with tlsCfg and headers, returning status and body.
func send(t *testing.T, e *apitest.Env, tlsCfg *tls.Config, method, path string, headers map[string]string) (int, []byte) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func errCode(body []byte) wire.Code {
	var eb wire.ErrorBody
	_ = json.Unmarshal(body, &eb)
	return eb.Error.Code
}

// TestOperatorRoles proves the API enforces the certificate's role for
// every client: a read-only operator reads, and its CLI-style change is
// refused with code forbidden and changes nothing.
func TestOperatorRoles(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	mustRegister(t, e, "dev-1")
	viewer := client.New(e.URL, operatorTLS(t, e, "viewer", ca.RoleReadOnly))
	defer viewer.CloseIdleConnections()

	if _, err := viewer.Device(t.Context(), "dev-1"); err != nil {
		t.Fatalf("read-only operator cannot read: %v", err)
	}
	_, err := viewer.Revoke(t.Context(), "dev-1", "stolen")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || apiErr.Code != wire.CodeForbidden ||
		!strings.Contains(apiErr.Message, "read-only") {
		t.Fatalf("read-only revoke: %v, want 403 forbidden naming the role", err)
	}
	d, err := e.Admin.Device(t.Context(), "dev-1")
	if err != nil || d.Device.Status != wire.DeviceStatus("active") {
		t.Fatalf("device after refused revoke: %+v, %v", d.Device, err)
	}
	events, err := e.DB.Audit(t.Context(), storeFilter("dev-1"))
	if err != nil || len(events) != 1 {
		t.Fatalf("audit after refused revoke: %d events, %v; want only the registration", len(events), err)
	}

	// An explicit admin role may change things, like the role-less admin.crt.
	admin2 := client.New(e.URL, operatorTLS(t, e, "admin2", ca.RoleAdmin))
	defer admin2.CloseIdleConnections()
	if _, err := admin2.Revoke(t.Context(), "dev-1", "stolen"); err != nil {
		t.Fatalf("admin-role revoke: %v", err)
	}
	events, _ = e.DB.Audit(t.Context(), storeFilter("dev-1"))
	if last := events[len(events)-1]; last.Actor != "admin2" || last.Action != "device.revoke" {
		t.Fatalf("audit names %q for %s, want the operator admin2", last.Actor, last.Action)
	}
}

// TestConsoleCSRF proves state-changing browser requests need the token
// bound to the operator's certificate and this origin, while the CLI,
// which sends no browser headers, needs none.
func TestConsoleCSRF(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		mustRegister(t, e, id)
	}
	status, body := send(t, e, e.AdminTLS, http.MethodGet, "/console/api/me", nil)
	var me struct {
		Name, Role, CSRF, Header string
	}
	if err := json.Unmarshal(body, &me); err != nil || status != 200 || me.CSRF == "" || me.Role != "admin" {
		t.Fatalf("me: %d %s", status, body)
	}
	host := strings.TrimPrefix(e.URL, "https://")
	same := map[string]string{"Origin": e.URL, "Sec-Fetch-Site": "same-origin"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			if a != k {
				out[a] = b
			}
		}
		return out
	}
	other := operatorTLS(t, e, "other", ca.RoleAdmin)
	for _, tt := range []struct {
		name    string
		tls     *tls.Config
		device  string
		headers map[string]string
		status  int
		code    wire.Code
	}{
		{"error/browser without token", e.AdminTLS, "a", same, 403, wire.CodeCSRF},
		{"error/wrong token", e.AdminTLS, "a", with(same, api.CSRFHeader, "x"+me.CSRF), 403, wire.CodeCSRF},
		{"error/another operator's token", other, "a", with(same, api.CSRFHeader, me.CSRF), 403, wire.CodeCSRF},
		{"error/cross-site origin", e.AdminTLS, "a", with(with(same, api.CSRFHeader, me.CSRF), "Origin", "https://evil.example"), 403, wire.CodeCSRF},
		{"error/cross-site fetch", e.AdminTLS, "a", with(with(same, api.CSRFHeader, me.CSRF), "Sec-Fetch-Site", "cross-site"), 403, wire.CodeCSRF},
		{"error/cookie only", e.AdminTLS, "a", map[string]string{"Cookie": "x=1"}, 403, wire.CodeCSRF},
		{"ok/browser with token", e.AdminTLS, "b", with(same, api.CSRFHeader, me.CSRF), 200, ""},
		{"ok/origin only with token", e.AdminTLS, "c", map[string]string{"Origin": "https://" + host, api.CSRFHeader: me.CSRF}, 200, ""},
		{"ok/CLI without browser headers", e.AdminTLS, "d", nil, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, e, tt.tls, http.MethodPost, "/v1/devices/"+tt.device+"/suspend", tt.headers)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("status %d code %q (%s), want %d %q", status, errCode(body), body, tt.status, tt.code)
			}
		})
	}
	d, _ := e.Admin.Device(t.Context(), "a")
	if d.Device.Status != "active" {
		t.Fatalf("refused requests changed device a: %s", d.Device.Status)
	}
}

// TestConsolePage checks the page's lock-down: operators only, a strict
// CSP, and no inline script or style in the embedded page.
func TestConsolePage(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	status, body := send(t, e, e.AdminTLS, http.MethodGet, "/console", nil)
	if status != 200 || !bytes.Contains(body, []byte(`src="/console/assets/app.js"`)) {
		t.Fatalf("GET /console as admin: %d", status)
	}
	if inline := regexp.MustCompile(`<script(?:\s+type="module")?>|<style|\sstyle=|\son[a-z]+=`).Find(body); inline != nil {
		t.Fatalf("inline script or style in the page: %q", inline)
	}
	status, _ = send(t, e, e.AdminTLS, http.MethodGet, "/console/assets/chart.umd.min.js", nil)
	if status != 200 {
		t.Fatalf("Chart.js: %d", status)
	}
	anon := &tls.Config{RootCAs: e.CA.RootPool()}
	if status, body := send(t, e, anon, http.MethodGet, "/console", nil); status != 401 || errCode(body) != wire.CodeUnauthenticated {
		t.Fatalf("GET /console without a client certificate: %d %s", status, body)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: e.AdminTLS}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(e.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); csp != console.CSP || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
}

// TestConsoleDevices pages the console's device list with its cursor and
// refuses bad filters.
func TestConsoleDevices(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	for _, id := range []string{"d1", "d2", "d3", "d4", "d5"} {
		mustRegister(t, e, id)
	}
	var seen []string
	after := ""
	for range 5 {
		status, body := send(t, e, e.AdminTLS, http.MethodGet, "/console/api/devices?limit=2&after="+after, nil)
		var page struct {
			Devices []struct{ ID string }
			Next    string
		}
		if err := json.Unmarshal(body, &page); err != nil || status != 200 {
			t.Fatalf("page: %d %s", status, body)
		}
		for _, d := range page.Devices {
			seen = append(seen, d.ID)
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if strings.Join(seen, ",") != "d1,d2,d3,d4,d5" {
		t.Fatalf("paged %v", seen)
	}
	for _, q := range []string{"limit=x", "limit=201", "status=gone", "connected=maybe", "connected=yes", "seen=1h", "seen=forever"} {
		if status, body := send(t, e, e.AdminTLS, http.MethodGet, "/console/api/devices?"+q, nil); status != 400 || errCode(body) != wire.CodeBadRequest {
			t.Errorf("?%s: %d %s, want 400 bad_request", q, status, body)
		}
	}
}
