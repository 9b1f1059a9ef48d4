package api_test

import (
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestDeviceProfileAndLimits: an operator replaces a device's group and
// metadata, and sets a group's rate action, inflight and connect limits,
// through the real client; bad values are refused and change nothing.
func TestDeviceProfileAndLimits(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)
	mustRegister(t, e, "meter-1")

	d, err := e.Admin.SetDeviceProfile(ctx, "meter-1", wire.ProfileRequest{Group: "sites", Metadata: map[string]string{"site": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Group != "sites" || d.Metadata["site"] != "b" {
		t.Fatalf("profile answer %+v", d)
	}
	want := wire.Limits{RateAction: "disconnect", MaxInflight: 4, ConnectsPerMinute: 10}
	g, err := e.Admin.SetGroupLimits(ctx, "sites", want)
	if err != nil {
		t.Fatal(err)
	}
	if g.Limits == nil || *g.Limits != want {
		t.Fatalf("group limits %+v, want %+v", g.Limits, want)
	}

	before := take(t, e)
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"bad group", wire.Expand(wire.PathDeviceProfile, "meter-1"), `{"group": "a/b"}`, http.StatusBadRequest},
		{"unknown device", wire.Expand(wire.PathDeviceProfile, "nobody"), `{"group": "sites"}`, http.StatusNotFound},
		{"unknown rate action", wire.Expand(wire.PathGroupLimits, "sites"), `{"rate_action": "ignore"}`, http.StatusBadRequest},
		{"inflight over 65535", wire.Expand(wire.PathGroupLimits, "sites"), `{"max_inflight": 70000}`, http.StatusBadRequest},
	} {
		if code, body := raw(t, e, http.MethodPut, tc.path, []byte(tc.body)); code != tc.want {
			t.Errorf("%s: status %d (%+v), want %d", tc.name, code, body, tc.want)
		}
	}
	assertUnchanged(t, e, before)
}
