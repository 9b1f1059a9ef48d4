package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		name, pattern, value, want string
	}{
		{"ok/device", wire.PathDevice, "sensor-1", "/v1/devices/sensor-1"},
		{"ok/action", wire.PathDeviceRevoke, "sensor-1", "/v1/devices/sensor-1/revoke"},
		{"ok/certificate", wire.PathCertificateRevoke, "1f", "/v1/certificates/1f/revoke"},
		{"ok/no-wildcard", wire.PathDevices, "ignored", "/v1/devices"},
		{"error/slash-stays-one-segment", wire.PathDevice, "a/../b", "/v1/devices/a%2F..%2Fb"},
		{"error/query-stays-in-path", wire.PathGroup, "g?x=1", "/v1/groups/g%3Fx=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wire.Expand(tc.pattern, tc.value); got != tc.want {
				t.Errorf("Expand(%q, %q) = %q, want %q", tc.pattern, tc.value, got, tc.want)
			}
		})
	}
}

// TestEncoding pins the JSON of the types whose shape is least obvious
// from their fields: omitted zero times, the flattened certificate detail,
// base64 byte fields.
func TestEncoding(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"ok/certificate-active", wire.Certificate{Serial: "1f", Fingerprint: "ab", DeviceID: "sensor-1", NotBefore: at, NotAfter: at,
			Status: wire.CertActive, Attestation: wire.AttestTPM, IssuedAt: at},
			`{"serial":"1f","fingerprint":"ab","device_id":"sensor-1","not_before":"2030-01-02T03:04:05Z","not_after":"2030-01-02T03:04:05Z","status":"active","attestation":"tpm","issued_at":"2030-01-02T03:04:05Z"}`},
		{"ok/certificate-detail-flat", wire.CertificateDetail{Certificate: wire.Certificate{Serial: "1f", Status: wire.CertRevoked, RevokedAt: at, Reason: "lost"}, PEM: "pem"},
			`{"serial":"1f","fingerprint":"","device_id":"","not_before":"0001-01-01T00:00:00Z","not_after":"0001-01-01T00:00:00Z","status":"revoked","attestation":"","issued_at":"0001-01-01T00:00:00Z","revoked_at":"2030-01-02T03:04:05Z","reason":"lost","pem":"pem"}`},
		{"ok/token-unused", wire.Token{Hash: "h", Group: "g", ExpiresAt: at, CreatedAt: at, CreatedBy: "admin"},
			`{"hash":"h","group":"g","expires_at":"2030-01-02T03:04:05Z","created_at":"2030-01-02T03:04:05Z","created_by":"admin"}`},
		{"ok/device-minimal", wire.Device{ID: "d", Status: wire.DeviceSuspended, CreatedAt: at, UpdatedAt: at},
			`{"id":"d","status":"suspended","created_at":"2030-01-02T03:04:05Z","updated_at":"2030-01-02T03:04:05Z"}`},
		{"ok/software-rotation", wire.RotationRequest{CSR: "csr"}, `{"csr":"csr"}`},
		{"ok/tpm-start-bytes", wire.TPMStartRequest{DeviceID: "d", EKCert: []byte{0xde, 0xad}, AKPublic: []byte{1}},
			`{"device_id":"d","ek_cert":"3q0=","ak_public":"AQ=="}`},
		{"ok/error", wire.ErrorBody{Error: wire.ErrorDetail{Code: wire.CodeTokenReplayed, Message: "used"}},
			`{"error":{"code":"token_replayed","message":"used"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
