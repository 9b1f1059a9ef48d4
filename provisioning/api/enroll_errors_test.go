package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
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
		code   string
		status int
	}{
		{"error/secret", wrap(attest.ErrSecretMismatch), enroll.CodeSecretMismatch, http.StatusForbidden},
		{"error/nonce", wrap(attest.ErrNonceMismatch), enroll.CodeNonceMismatch, http.StatusForbidden},
		{"error/name", wrap(attest.ErrNameMismatch), enroll.CodeNameMismatch, http.StatusForbidden},
		{"error/ak-signature", wrap(attest.ErrAKSignature), enroll.CodeAKSignature, http.StatusForbidden},
		{"error/magic", wrap(attest.ErrAttestMagic), enroll.CodeAttestation, http.StatusBadRequest},
		{"error/type", wrap(attest.ErrAttestType), enroll.CodeAttestation, http.StatusBadRequest},
		{"error/key-attributes", wrap(attest.ErrKeyAttributes), enroll.CodeKeyAttributes, http.StatusForbidden},
		{"error/ak-attributes", wrap(attest.ErrAKAttributes), enroll.CodeAKAttributes, http.StatusForbidden},
		{"error/csr-signature", wrap(attest.ErrCSRSignature), enroll.CodeCSRSignature, http.StatusForbidden},
		{"error/csr-key", wrap(attest.ErrCSRKeyMismatch), enroll.CodeCSRKeyMismatch, http.StatusForbidden},
		{"error/ek-untrusted", wrap(attest.ErrEKUntrusted), enroll.CodeEKUntrusted, http.StatusForbidden},
		{"error/malformed", wrap(attest.ErrMalformed), enroll.CodeBadRequest, http.StatusBadRequest},
		{"error/malformed-attestation", withCode(enroll.CodeAttestation, wrap(attest.ErrMalformed)), enroll.CodeAttestation, http.StatusBadRequest},
		{"error/challenge-expired", challengeErr(wrap(store.ErrExpired)), enroll.CodeChallengeExpired, http.StatusGone},
		{"error/challenge-replayed", challengeErr(fmt.Errorf("%w: %w", store.ErrReplayed, store.ErrNotFound)), enroll.CodeChallengeReplayed, http.StatusConflict},
		{"error/challenge-unknown", challengeErr(wrap(store.ErrNotFound)), enroll.CodeNotFound, http.StatusNotFound},
		{"error/challenge-other-tpm", challengeErr(wrap(store.ErrPolicy)), enroll.CodeEKNotAllowed, http.StatusForbidden},
		{"error/token-expired", tokenErr(wrap(store.ErrExpired)), enroll.CodeTokenExpired, http.StatusGone},
		{"error/token-replayed", tokenErr(wrap(store.ErrReplayed)), enroll.CodeTokenReplayed, http.StatusConflict},
		{"error/token-unknown", tokenErr(wrap(store.ErrNotFound)), enroll.CodeTokenInvalid, http.StatusForbidden},
		{"error/token-policy", tokenErr(wrap(store.ErrPolicy)), enroll.CodePolicy, http.StatusForbidden},
		{"error/device-exists", tokenErr(wrap(store.ErrExists)), enroll.CodeExists, http.StatusConflict},
		{"error/device-state", wrap(store.ErrState), enroll.CodeDeviceNotActive, http.StatusForbidden},
		{"error/bad-csr", wrap(ca.ErrBadCSR), enroll.CodeBadRequest, http.StatusBadRequest},
		{"error/bad-request", wrap(errBadRequest), enroll.CodeBadRequest, http.StatusBadRequest},
		{"error/unauthenticated", wrap(errDeviceUnauthenticated), enroll.CodeUnauthenticated, http.StatusUnauthorized},
		{"error/closed", wrap(store.ErrClosed), enroll.CodeInternal, http.StatusInternalServerError},
		{"error/unknown", errors.New("disk on fire"), enroll.CodeInternal, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := enrollCode(tc.err)
			if code != tc.code || enrollStatus(code) != tc.status {
				t.Errorf("enrollCode(%v) = %s (%d), want %s (%d)", tc.err, code, enrollStatus(code), tc.code, tc.status)
			}
			if code != enroll.CodeBadRequest && enrollMessages[code] == "" { // bad_request says what was malformed
				t.Errorf("code %s has no message", code)
			}
		})
	}
}
