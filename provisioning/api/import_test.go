package api_test

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestImport pre-registers devices from CSV and JSON lines, with EK hashes
// and EK certificates, and imports the same files again.
func TestImport(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	ctx := testCtx(t)
	if _, err := e.Admin.PutGroup(ctx, "line-a", wire.GroupRequest{RequireTPM: true}); err != nil {
		t.Fatal(err)
	}
	ek1, ek2, ek3 := pki.Key(t), pki.Key(t), pki.Key(t)
	hash := func(k any) string {
		h, err := attest.EKHash(k)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.EKCert(t, &ek2.PublicKey).Raw}))
	csvFile := "id,group,ek_cert,ek_hash,metadata\n" +
		"dev-1,line-a,," + strings.ToUpper(hash(&ek1.PublicKey)) + ",site=plant-7;rack=3\n" +
		"dev-2,line-a,\"" + pemCert + "\",,\n" +
		"dev-3,,,,\n"
	jsonlFile := fmt.Sprintf(`{"id":"dev-4","group":"line-a","ek_cert":%q,"metadata":{"site":"plant-8"}}`, base64.StdEncoding.EncodeToString(m.EKCert(t, &ek3.PublicKey).Raw)) +
		"\n\n" + `{"id":"dev-5"}` + "\n"

	imp := func(t *testing.T, ct, body string) (wire.ImportResult, error) {
		t.Helper()
		return e.Admin.ImportDevices(ctx, ct, strings.NewReader(body))
	}
	t.Run("ok/csv", func(t *testing.T) {
		res, err := imp(t, wire.ImportCSV, csvFile)
		if err != nil || res != (wire.ImportResult{Created: 3}) {
			t.Fatalf("import = %+v, %v; want 3 created", res, err)
		}
		d1, err := e.DB.Device(t.Context(), "dev-1")
		if err != nil || d1.EKHash != hash(&ek1.PublicKey) || d1.Metadata["rack"] != "3" || d1.Metadata["site"] != "plant-7" || d1.Group != "line-a" {
			t.Errorf("dev-1 = %+v, %v", d1, err)
		}
		// The EK certificate row is found by the hash of its key.
		if d2, err := e.DB.DeviceByEK(t.Context(), hash(&ek2.PublicKey)); err != nil || d2.ID != "dev-2" {
			t.Errorf("DeviceByEK = %+v, %v; want dev-2", d2, err)
		}
	})
	t.Run("ok/jsonl", func(t *testing.T) {
		res, err := imp(t, wire.ImportJSONL, jsonlFile)
		if err != nil || res != (wire.ImportResult{Created: 2}) {
			t.Fatalf("import = %+v, %v; want 2 created", res, err)
		}
		if d4, err := e.DB.DeviceByEK(t.Context(), hash(&ek3.PublicKey)); err != nil || d4.ID != "dev-4" || d4.Metadata["site"] != "plant-8" {
			t.Errorf("dev-4 = %+v, %v", d4, err)
		}
	})
	t.Run("ok/reimport-changes-nothing", func(t *testing.T) {
		before := take(t, e)
		res, err := imp(t, wire.ImportCSV, csvFile)
		if err != nil || res != (wire.ImportResult{Unchanged: 3}) {
			t.Fatalf("csv again = %+v, %v; want 3 unchanged", res, err)
		}
		res, err = imp(t, wire.ImportJSONL, jsonlFile)
		if err != nil || res != (wire.ImportResult{Unchanged: 2}) {
			t.Fatalf("jsonl again = %+v, %v; want 2 unchanged", res, err)
		}
		assertUnchanged(t, e, before)
	})
}

// TestImportRefusals checks that a bad row is reported with its line (the
// CSV header is line 1; a quoted PEM spans lines) and that nothing of the
// file is written.
func TestImportRefusals(t *testing.T) {
	m := softtpm.NewManufacturer(t)
	e := tpmEnv(t, m, api.Config{})
	noRoots := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)
	if _, err := e.Admin.PutGroup(ctx, "line-a", wire.GroupRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.RegisterDevice(ctx, wire.RegisterRequest{ID: "taken-1", Group: "line-a"}); err != nil {
		t.Fatal(err)
	}
	ek := pki.Key(t)
	ekHash, _ := attest.EKHash(&ek.PublicKey)
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.EKCert(t, &ek.PublicKey).Raw}))
	forged := base64.StdEncoding.EncodeToString(softtpm.SelfSignedEKCert(t, pki.Key(t)))
	const header = "id,group,ek_cert,ek_hash,metadata\n"
	// Line 2 holds a PEM certificate over several lines; the next record
	// starts on the line after its closing quote.
	pemRow := "ok-1,line-a,\"" + pemCert + "\",,\n"
	nextLine := 2 + strings.Count(pemRow, "\n")

	tests := []struct {
		name, ct, body string
		env            *apitest.Env
		line           int
	}{
		{"error/invalid-id-after-pem", wire.ImportCSV, header + pemRow + "bad/id,,,,\n", e, nextLine},
		{"error/unknown-group", wire.ImportCSV, header + "ok-1,,,,\nok-2,no-such-group,,,\n", e, 3},
		{"error/conflicts-with-registered", wire.ImportCSV, header + "ok-1,,,,\ntaken-1,,,,\n", e, 3},
		{"error/duplicate-id", wire.ImportCSV, header + "ok-1,,,,\nok-2,,,,\nok-1,,,,\n", e, 4},
		{"error/duplicate-ek", wire.ImportCSV, header + pemRow + "ok-2,,," + ekHash + ",\n", e, nextLine},
		{"error/ek-cert-forged", wire.ImportCSV, header + "ok-1,,,,\nok-2,," + forged + ",,\n", e, 3},
		{"error/ek-hash-not-the-certs", wire.ImportCSV, header + "ok-1,line-a,\"" + pemCert + "\"," + strings.Repeat("ab", 32) + ",\n", e, 2},
		{"error/ek-hash-malformed", wire.ImportCSV, header + "ok-1,,,xyz,\n", e, 2},
		{"error/ek-cert-without-roots", wire.ImportCSV, header + pemRow, noRoots, 2},
		{"error/bad-metadata", wire.ImportCSV, header + "ok-1,,,,site\n", e, 2},
		{"error/unknown-column", wire.ImportCSV, "id,colour\nok-1,red\n", e, 1},
		{"error/no-id-column", wire.ImportCSV, "group\nline-a\n", e, 1},
		{"error/field-count", wire.ImportCSV, header + "ok-1,,,,\nok-2,line-a\n", e, 3},
		{"error/jsonl-unknown-field", wire.ImportJSONL, `{"id":"ok-1"}` + "\n\n" + `{"id":"ok-2","colour":"red"}` + "\n", e, 3},
		{"error/jsonl-garbage", wire.ImportJSONL, `{"id":"ok-1"}` + "\n" + `{"id":` + "\n", e, 2},
		{"error/jsonl-two-objects", wire.ImportJSONL, `{"id":"ok-1"} {"id":"ok-2"}` + "\n", e, 1},
		{"error/jsonl-invalid-id", wire.ImportJSONL, `{"id":"ok-1"}` + "\n" + `{"id":"a+b"}` + "\n", e, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, tc.env)
			_, err := tc.env.Admin.ImportDevices(ctx, tc.ct, strings.NewReader(tc.body))
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != wire.CodeBadRequest {
				t.Fatalf("err = %v, want 400 bad_request", err)
			}
			t.Logf("refused: %s", apiErr.Message)
			if want := fmt.Sprintf("line %d:", tc.line); !strings.Contains(apiErr.Message, want) {
				t.Errorf("message %q does not name %q", apiErr.Message, want)
			}
			assertUnchanged(t, tc.env, before)
		})
	}

	t.Run("error/content-type", func(t *testing.T) {
		before := take(t, e)
		_, err := e.Admin.ImportDevices(ctx, "application/json", strings.NewReader(`{"id":"ok-1"}`))
		if !client.IsBadRequest(err) {
			t.Fatalf("err = %v, want bad request", err)
		}
		assertUnchanged(t, e, before)
	})
	t.Run("error/too-large", func(t *testing.T) {
		small := apitest.Start(t, apitest.Options{Config: api.Config{MaxImportBytes: 1 << 10}})
		before := take(t, small)
		body := header + strings.Repeat("ok-1,,,,\n", 200)
		_, err := small.Admin.ImportDevices(ctx, wire.ImportCSV, strings.NewReader(body))
		if !client.IsBadRequest(err) {
			t.Fatalf("err = %v, want bad request", err)
		}
		assertUnchanged(t, small, before)
	})
	t.Run("error/not-an-operator", func(t *testing.T) {
		_, err := e.Anonymous.ImportDevices(ctx, wire.ImportCSV, strings.NewReader(header+"ok-1,,,,\n"))
		if !client.IsUnauthenticated(err) {
			t.Fatalf("err = %v, want unauthenticated", err)
		}
	})
}
