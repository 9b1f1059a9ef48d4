package api

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// TestRefusalWords: every check a broker records (the reason= values of
// broker/admit.go and the handshake checks of broker/refusals.go) has its
// own words and a next step, never the generic fallback.
func TestRefusalWords(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	at := now.Add(-90 * time.Minute)
	superseded := func(string) (time.Time, bool) { return at, true }
	checks := map[string]string{
		"expired":                "certificate expired 3 h ago",
		"not_yet_valid":          "not valid before",
		"client_id_mismatch":     `client ID "pump-18" does not match the certificate's identity "pump-17"`,
		"cert_not_active":        "superseded by rotation at 2026-12-06 12:30 UTC",
		"cert_revoked":           "was revoked",
		"unknown_cert":           "is not registered for device",
		"cert_mismatch":          "fingerprint",
		"unknown_device":         "which is not registered",
		"unknown_ca":             "certificate from an unknown CA (issuer CN=Other CA)",
		"bad_certificate":        "TLS handshake refused the certificate",
		"eku":                    "clientAuth",
		"ca_leaf":                "CA certificate",
		"no_identity":            "names no device identity",
		"device_suspended":       "suspended",
		"device_revoked":         "revoked",
		"will_topic":             "Will topic",
		"revoked_during_connect": "changed while it was connecting",
		"registry_error":         "the registry failed",
		"connect_rate":           "connected more often than the broker's limit allows",
		"foreign_intermediate":   "intermediate",
		"foreign_not_allowed":    "allow-list",
		"foreign_id_taken":       "derived from the foreign certificate",
		"foreign_serial_taken":   "recorded for another device",
	}
	for check, want := range checks {
		r := store.Refusal{Check: check, DeviceID: "pump-17", ClaimedClientID: "pump-18", Serial: "1e6f",
			Issuer: "CN=Other CA", NotAfter: now.Add(-3*time.Hour - time.Minute), NotBefore: now.Add(time.Hour)}
		what, next := refusalWords(r, now, superseded)
		if !strings.Contains(what, want) || next == "" || strings.HasPrefix(what, "refused (") {
			t.Errorf("%s: %q / %q; want words holding %q and a next step", check, what, next, want)
		}
	}
	if what, next := refusalWords(store.Refusal{Check: "new_check"}, now, superseded); what != "refused (new_check)" || !strings.Contains(next, "reason=new_check") {
		t.Errorf("unknown check: %q / %q", what, next)
	}
}
