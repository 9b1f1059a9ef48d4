package test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/smallfs"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestRegistryFullOperator runs the server on a registry file in a 3 MB
// tmpfs and fills it through the API: the operator hears that the
// registry's disk is full (HTTP 507, code registry_full, a CLI hint),
// /readyz and the metrics say so, and a revocation still commits.
func TestRegistryFullOperator(t *testing.T) {
	dir := smallfs.Mount(t, "3m")
	s := startServer(t, t.TempDir(), "--registry", "bolt://"+dir+"/registry.db")
	s.Device("keep-1")
	admin := adminClient(t, s)
	defer admin.CloseIdleConnections()

	meta := map[string]string{"note": strings.Repeat("x", 30000)}
	var apiErr *client.APIError
	for i := 0; ; i++ {
		_, err := admin.RegisterDevice(t.Context(), wire.RegisterRequest{ID: fmt.Sprintf("fill-%04d", i), Metadata: meta})
		if err == nil {
			continue
		}
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusInsufficientStorage || apiErr.Code != wire.CodeRegistryFull {
			t.Fatalf("after %d devices: %v; want HTTP 507 registry_full", i, err)
		}
		t.Logf("registry full after %d devices: %v", i, err)
		break
	}

	out, errOut, code := s.Ctl("device", "register", "one-more", "--meta", "note="+strings.Repeat("y", 4000))
	if code != 7 || !strings.Contains(errOut, "registry's storage is full") || !strings.Contains(errOut, "disk is full") {
		t.Fatalf("CLI on a full registry: exit %d, stdout %q, stderr:\n%s\nwant exit 7 with the cause and a hint", code, out, errOut)
	}
	t.Logf("fleetgate device register on a full registry:\n%s", errOut)

	if body := get200(t, s.Ops+"/readyz"); !strings.Contains(body, "registry storage full") {
		t.Fatalf("/readyz: %q; want it to name the full registry", body)
	}
	if body := get200(t, s.Ops+"/metrics"); !strings.Contains(body, "\nfleetgate_registry_full 1\n") {
		t.Fatal("/metrics lacks fleetgate_registry_full 1")
	}

	// A revocation is small and fits in pages the earlier writes freed.
	s.MustCtl("device", "revoke", "keep-1", "--reason", "lost")
	if body := get200(t, s.Ops+"/metrics"); !strings.Contains(body, "\nfleetgate_registry_full 0\n") {
		t.Fatal("/metrics: fleetgate_registry_full did not clear after the revocation committed")
	}
}

// get200 is httpGet that fails t unless the status is 200.
func get200(t *testing.T, url string) string {
	t.Helper()
	code, body := httpGet(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}
