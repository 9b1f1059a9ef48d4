package api

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// fuzzRoutes are the device routes FuzzEnrollRequests posts to, indexed by
// the fuzzer's route byte, with the request type each decodes.
var fuzzRoutes = []struct {
	path string
	body any
	// rotation routes run as an enrolled device; their answer may be a
	// success.
	rotation bool
}{
	{wire.PathToken, wire.TokenRequest{}, false},
	{wire.PathTPMStart, wire.TPMStartRequest{}, false},
	{wire.PathTPMFinish, wire.TPMFinishRequest{}, false},
	{wire.PathRotationFinish, wire.RotationRequest{}, true},
	{wire.PathRotationStart, struct{}{}, true},
}

// enrollCodes are every code a device may hear.
var enrollCodes = []wire.Code{
	wire.CodeNonceMismatch, wire.CodeSecretMismatch, wire.CodeNameMismatch, wire.CodeAKSignature,
	wire.CodeAttestation, wire.CodeKeyAttributes, wire.CodeAKAttributes, wire.CodeCSRSignature,
	wire.CodeCSRKeyMismatch, wire.CodeEKUntrusted, wire.CodeEKNotAllowed, wire.CodeChallengeExpired,
	wire.CodeChallengeReplayed, wire.CodeTokenInvalid, wire.CodeTokenExpired, wire.CodeTokenReplayed,
	wire.CodePolicy, wire.CodeNotFound, wire.CodeExists, wire.CodeDeviceNotActive,
	wire.CodeBadRequest, wire.CodeUnauthenticated, wire.CodeInternal,
}

// FuzzEnrollRequests posts arbitrary bodies to the enrollment and rotation
// routes of a real API over a real registry and CA. Whatever the body:
// the handler does not panic; it never answers 5xx; the enrollment routes
// never succeed (no input can hold a token or an allowed EK); a refusal is
// the JSON error shape with a known code; a JSON object with a field the
// route does not know is refused as bad_request; and a rotation that
// succeeds names the authenticated device, whatever the CSR says.
func FuzzEnrollRequests(f *testing.F) {
	a, deviceTLS := newFuzzAPI(f)
	h := a.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(http.MethodPost, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if rt.rotation {
			req.TLS = deviceTLS
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		status, out := rec.Code, rec.Body.Bytes()

		switch {
		case status >= 500:
			t.Fatalf("%s answered %d to %q: %s", rt.path, status, body, out)
		case status < 400 && !rt.rotation:
			t.Fatalf("%s accepted %q with %d: %s", rt.path, body, status, out)
		case status < 400:
			checkRotated(t, out)
			return
		}
		var refusal struct {
			Error struct {
				Code    wire.Code
				Message string
			} `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&refusal); err != nil || !slices.Contains(enrollCodes, refusal.Error.Code) {
			t.Fatalf("%s refusal %d is not the error shape with a known code (%v): %s", rt.path, status, err, out)
		}
		if k := unknownField(body, rt.body); k != "" && refusal.Error.Code != wire.CodeBadRequest {
			t.Fatalf("%s: body with unknown field %q refused as %s, want %s", rt.path, k, refusal.Error.Code, wire.CodeBadRequest)
		}
	})
}

// unknownField returns a top-level key of body, if body is a JSON object,
// that names no field of v. Only ASCII keys are judged: encoding/json
// matches names case-insensitively, and ASCII folding is unambiguous.
func unknownField(body []byte, v any) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	known := jsonNames(reflect.TypeOf(v))
	for k := range obj {
		ascii := true
		for i := 0; i < len(k); i++ {
			ascii = ascii && k[i] < 0x80
		}
		if ascii && !slices.ContainsFunc(known, func(n string) bool { return strings.EqualFold(n, k) }) {
			return k
		}
	}
	return ""
}

// jsonNames lists the JSON names of a struct's exported fields.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// checkRotated checks a successful rotation: an issued certificate for
// the fuzz device, whatever identity the CSR asked for.
func checkRotated(t *testing.T, out []byte) {
	t.Helper()
	var issued wire.Issued
	if err := json.Unmarshal(out, &issued); err != nil {
		t.Fatalf("rotation answer: %v: %s", err, out)
	}
	certs := pki.ParseCerts(t, []byte(issued.Certificate))
	if len(certs) == 0 {
		t.Fatalf("rotation answer holds no certificate: %s", out)
	}
	leaf := certs[0]
	if id, err := identity.FromCertificate(leaf); err != nil || id != fuzzRotator {
		t.Fatalf("rotation issued a certificate for %q (%v), want %q", id, err, fuzzRotator)
	}
}

// fuzzRotator is the device the rotation routes run as.
const fuzzRotator = "fz-rotator"

// newFuzzAPI starts the API over a fresh registry and CA, enrolls
// fz-rotator by token through the handler, and returns the TLS state its
// rotation requests carry.
func newFuzzAPI(f *testing.F) (*API, *tls.ConnectionState) {
	f.Helper()
	dir := f.TempDir()
	authority, _, err := ca.Bootstrap(filepath.Join(dir, "ca"), ca.BootstrapOptions{})
	if err != nil {
		f.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := db.Check(); err != nil {
			f.Error(err)
		}
		_ = db.Close()
	})
	a := New(db, authority, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	by := store.Actor{Name: "fuzz"}
	if _, err := db.PutGroup(f.Context(), store.Group{Name: "fz-soft", AllowTokens: true}, by); err != nil {
		f.Fatal(err)
	}
	tokens, err := db.CreateTokens(f.Context(), "fz-soft", 1, time.Hour, by)
	if err != nil {
		f.Fatal(err)
	}
	body, _ := json.Marshal(wire.TokenRequest{
		Token: tokens[0], DeviceID: fuzzRotator,
		CSR: pki.CSRPEM(f, pki.Key(f), "someone-else"),
	})
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, wire.PathToken, bytes.NewReader(body)))
	if rec.Code != http.StatusCreated {
		f.Fatalf("token enrollment of %s: %d %s", fuzzRotator, rec.Code, rec.Body)
	}
	var issued wire.Issued
	if err := json.Unmarshal(rec.Body.Bytes(), &issued); err != nil {
		f.Fatal(err)
	}
	return a, &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13, PeerCertificates: pki.ParseCerts(f, []byte(issued.Chain))}
}
