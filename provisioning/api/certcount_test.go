package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestCountCertificates counts certificates by status and issuer, as
// `fleetgate ca root-rollover finish` does before retiring intermediates.
func TestCountCertificates(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	issuer := ca.IssuerID(e.CA.DeviceCA())
	for _, id := range []string{"count-1", "count-2"} {
		mustRegister(t, e, id)
		mustIssue(t, e, id)
	}
	gone := mustIssue(t, e, "count-2")
	if _, err := e.Admin.RevokeCertificate(testCtx(t), gone.Serial, "lost"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		status  wire.CertStatus
		issuers []string
		want    int
		devices []string
	}{
		{"ok/all", "", nil, 3, []string{"count-1", "count-2"}},
		{"ok/active-under-issuer", wire.CertActive, []string{issuer}, 2, []string{"count-1", "count-2"}},
		{"ok/upper-case-issuer", wire.CertActive, []string{"00ff", strings.ToUpper(issuer)}, 2, []string{"count-1", "count-2"}},
		{"ok/revoked", wire.CertRevoked, []string{issuer}, 1, []string{"count-2"}},
		{"ok/other-issuer", wire.CertActive, []string{"00ff"}, 0, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Admin.CountCertificates(testCtx(t), tc.status, tc.issuers)
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.want || !slices.Equal(got.Devices, tc.devices) {
				t.Fatalf("count = %+v, want %d on %q", got, tc.want, tc.devices)
			}
		})
	}
	for _, q := range []string{"?issuer=zz", "?issuer=", "?status=gone"} {
		t.Run("error/"+q, func(t *testing.T) {
			if status, _ := raw(t, e, http.MethodGet, wire.PathCertificateCount+q, nil); status != http.StatusBadRequest {
				t.Fatalf("GET %s = %d, want 400", q, status)
			}
		})
	}
}
