package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestEnrollCode pins the mapping from errors of the device routes to codes
// and statuses: every attestation check has its own code, and a code
// chosen where the meaning is known wins over the sentinel.
func TestEnrollCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("device sensor-1: %w", err) }
	tests := []struct {
		name   string
		err    error
		code   wire.Code
		status int
	}{
		{"error/secret", wrap(attest.ErrSecretMismatch), wire.CodeSecretMismatch, http.StatusForbidden},
		{"error/nonce", wrap(attest.ErrNonceMismatch), wire.CodeNonceMismatch, http.StatusForbidden},
		{"error/name", wrap(attest.ErrNameMismatch), wire.CodeNameMismatch, http.StatusForbidden},
		{"error/ak-signature", wrap(attest.ErrAKSignature), wire.CodeAKSignature, http.StatusForbidden},
		{"error/magic", wrap(attest.ErrAttestMagic), wire.CodeAttestation, http.StatusBadRequest},
		{"error/type", wrap(attest.ErrAttestType), wire.CodeAttestation, http.StatusBadRequest},
		{"error/key-attributes", wrap(attest.ErrKeyAttributes), wire.CodeKeyAttributes, http.StatusForbidden},
		{"error/ak-attributes", wrap(attest.ErrAKAttributes), wire.CodeAKAttributes, http.StatusForbidden},
		{"error/csr-signature", wrap(attest.ErrCSRSignature), wire.CodeCSRSignature, http.StatusForbidden},
		{"error/csr-key", wrap(attest.ErrCSRKeyMismatch), wire.CodeCSRKeyMismatch, http.StatusForbidden},
		{"error/ek-untrusted", wrap(attest.ErrEKUntrusted), wire.CodeEKUntrusted, http.StatusForbidden},
		{"error/malformed", wrap(attest.ErrMalformed), wire.CodeBadRequest, http.StatusBadRequest},
		{"error/malformed-attestation", withCode(wire.CodeAttestation, wrap(attest.ErrMalformed)), wire.CodeAttestation, http.StatusBadRequest},
		{"error/challenge-expired", challengeErr(wrap(store.ErrExpired)), wire.CodeChallengeExpired, http.StatusGone},
		{"error/challenge-replayed", challengeErr(fmt.Errorf("%w: %w", store.ErrReplayed, store.ErrNotFound)), wire.CodeChallengeReplayed, http.StatusConflict},
		{"error/challenge-unknown", challengeErr(wrap(store.ErrNotFound)), wire.CodeNotFound, http.StatusNotFound},
		{"error/challenge-other-tpm", challengeErr(wrap(store.ErrPolicy)), wire.CodeEKNotAllowed, http.StatusForbidden},
		{"error/token-expired", tokenErr(wrap(store.ErrExpired)), wire.CodeTokenExpired, http.StatusGone},
		{"error/token-replayed", tokenErr(wrap(store.ErrReplayed)), wire.CodeTokenReplayed, http.StatusConflict},
		{"error/token-unknown", tokenErr(wrap(store.ErrNotFound)), wire.CodeTokenInvalid, http.StatusForbidden},
		{"error/token-policy", tokenErr(wrap(store.ErrPolicy)), wire.CodePolicy, http.StatusForbidden},
		{"error/device-exists", tokenErr(wrap(store.ErrExists)), wire.CodeExists, http.StatusConflict},
		{"error/device-state", wrap(store.ErrState), wire.CodeDeviceNotActive, http.StatusForbidden},
		{"error/bad-csr", wrap(ca.ErrBadCSR), wire.CodeBadRequest, http.StatusBadRequest},
		{"error/bad-request", wrap(errBadRequest), wire.CodeBadRequest, http.StatusBadRequest},
		{"error/unauthenticated", wrap(errDeviceUnauthenticated), wire.CodeUnauthenticated, http.StatusUnauthorized},
		{"error/closed", wrap(store.ErrClosed), wire.CodeInternal, http.StatusInternalServerError},
		{"error/unknown", errors.New("disk on fire"), wire.CodeInternal, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := enrollCode(tc.err)
			if code != tc.code || enrollStatus(code) != tc.status {
				t.Errorf("enrollCode(%v) = %s (%d), want %s (%d)", tc.err, code, enrollStatus(code), tc.code, tc.status)
			}
			if code != wire.CodeBadRequest && enrollMessages[code] == "" { // bad_request says what was malformed
				t.Errorf("code %s has no message", code)
			}
		})
	}
}
