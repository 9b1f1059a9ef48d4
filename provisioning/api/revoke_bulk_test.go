package api_test

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestRevokeBulkOutlivesTheConnection: the operator's connection drops
// right after sending a bulk revocation (a CLI killed, a laptop closed).
// The revocation still runs to its end: every device of the group is
// revoked, none is left admitted half-way.
func TestRevokeBulkOutlivesTheConnection(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	const n = 600
	by := store.Actor{Name: "admin"}
	if _, err := env.DB.PutGroup(t.Context(), store.Group{Name: "lost"}, by); err != nil {
		t.Fatal(err)
	}
	devs := make([]store.Device, n)
	for i := range devs {
		devs[i] = store.Device{ID: fmt.Sprintf("lost-%03d", i), Group: "lost"}
	}
	if _, _, err := env.DB.ImportDevices(t.Context(), devs, by); err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.AdminTLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", u.Host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"group":"lost","reason":"batch stolen"}`
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		wire.PathRevocations, u.Host, len(body), body)
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	conn.Close() // gone before the answer

	deadline := time.Now().Add(time.Minute)
	for {
		left := 0
		for _, d := range devs {
			got, err := env.DB.Device(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != store.DeviceRevoked {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d devices still not revoked a minute after the request", left, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The audit log names the one bulk revocation.
	events, err := env.Admin.Audit(t.Context(), client.AuditQuery{Action: "devices.revoke_bulk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Target != "lost" {
		t.Errorf("audit: %+v", events)
	}
}

// A wait_ms outside 0..MaxEnforceWaitMS is refused before anything is
// written; a wait of 0 answers without enforcement, the default with it.
func TestRevokeBulkWait(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	by := store.Actor{Name: "admin"}
	if _, err := env.DB.PutGroup(t.Context(), store.Group{Name: "g"}, by); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.DB.ImportDevices(t.Context(), []store.Device{{ID: "g-1", Group: "g"}}, by); err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int64{-1, wire.MaxEnforceWaitMS + 1} {
		_, err := env.Admin.RevokeBulk(t.Context(), wire.BulkRevokeRequest{Group: "g", Reason: "r", WaitMS: &ms})
		if !client.IsBadRequest(err) {
			t.Errorf("wait_ms %d: %v, want a bad request", ms, err)
		}
	}
	if d, err := env.DB.Device(t.Context(), "g-1"); err != nil || d.Status != store.DeviceActive {
		t.Fatalf("after refused requests: %+v, %v", d, err)
	}
	zero := int64(0)
	res, err := env.Admin.RevokeBulk(t.Context(), wire.BulkRevokeRequest{Group: "g", Reason: "r", WaitMS: &zero})
	if err != nil || res.Revoked != 1 || res.Enforcement != nil {
		t.Errorf("wait_ms 0: %+v, %v; want revoked, no enforcement", res, err)
	}
	res, err = env.Admin.RevokeBulk(t.Context(), wire.BulkRevokeRequest{Group: "g", Reason: "r"})
	if err != nil || res.Enforcement == nil || res.Enforcement.Brokers != 0 || res.Enforcement.Error != "" {
		t.Errorf("default wait: %+v, %v; want an enforcement with no broker to wait for", res, err)
	}
}
