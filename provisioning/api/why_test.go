package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestWhyRoutes: the diagnosis of a device never refused, of an
// unregistered one, of one refused for an expired certificate; the
// refusal listing and its refused parameters; operators only.
func TestWhyRoutes(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := t.Context()
	if _, err := e.Admin.RegisterDevice(ctx, wire.RegisterRequest{ID: "quiet-1"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.Admin.Why(ctx, "quiet-1")
	if err != nil || d.Status != "active" || !strings.Contains(d.Summary, "no broker has refused") || len(d.Refusals) != 0 {
		t.Fatalf("never refused: %+v, %v", d, err)
	}
	d, err = e.Admin.Why(ctx, "ghost-1")
	if err != nil || d.Status != "unregistered" || !strings.Contains(d.NextStep, "fleetgate device register ghost-1") {
		t.Fatalf("unregistered: %+v, %v", d, err)
	}

	if _, err := e.Admin.RegisterDevice(ctx, wire.RegisterRequest{ID: "late-1"}); err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(-3*time.Hour - time.Minute)
	err = e.DB.RecordRefusals(ctx, []store.Refusal{
		{Time: time.Now(), Broker: "b1", DeviceID: "late-1", Serial: "1e6f", Fingerprint: "ab", NotAfter: expired, Check: "expired"},
		{Time: time.Now(), Broker: "b1", Fingerprint: "cd", Subject: "CN=nobody", Issuer: "CN=Other", Check: "no_identity"},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.Admin.Why(ctx, "late-1")
	if err != nil || !strings.HasPrefix(d.Summary, "certificate expired 3 h ago") || !strings.Contains(d.NextStep, "re-enrols on its next start") ||
		len(d.Refusals) != 1 || d.Refusals[0].Detail == "" {
		t.Fatalf("expired: %+v, %v", d, err)
	}

	list, err := e.Admin.Refusals(ctx, true, 10)
	if err != nil || len(list.Refusals) != 1 || list.Refusals[0].Subject != "CN=nobody" || list.Dropped != 3 || list.Subjects != 2 {
		t.Fatalf("unregistered refusals: %+v, %v", list, err)
	}
	if all, err := e.Admin.Refusals(ctx, false, 0); err != nil || len(all.Refusals) != 2 {
		t.Fatalf("all refusals: %+v, %v", all, err)
	}
	for _, q := range []string{"?unregistered=maybe", "?limit=0", "?limit=x", "?limit=10001"} {
		code, body := rawAnswer(t, e, http.MethodGet, wire.PathRefusals+q, nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), string(wire.CodeBadRequest)) {
			t.Fatalf("GET %s: %d %s; want 400 bad_request", q, code, body)
		}
	}
	code, _ := rawAnswer(t, e, http.MethodGet, "/v1/devices/bad%20id/why", nil)
	if code != http.StatusBadRequest {
		t.Fatalf("why of a malformed ID: %d, want 400", code)
	}
	var apiErr *client.APIError
	if _, err := e.Anonymous.Why(ctx, "late-1"); !errors.As(err, &apiErr) || apiErr.Code != wire.CodeUnauthenticated {
		t.Fatalf("anonymous why: %v, want unauthenticated", err)
	}
}
