package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/store"
)

// TestStatusOf pins the one mapping from sentinel errors to HTTP status and
// code, including errors wrapped the way the registry and the CA wrap them.
func TestStatusOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("device sensor-1: %w", err) }
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"error/not-found", wrap(store.ErrNotFound), http.StatusNotFound, client.CodeNotFound},
		{"error/no-route", errNoRoute, http.StatusNotFound, client.CodeNotFound},
		{"error/exists", wrap(store.ErrExists), http.StatusConflict, client.CodeExists},
		{"error/state", wrap(store.ErrState), http.StatusConflict, client.CodeInvalidState},
		{"error/invalid", wrap(store.ErrInvalid), http.StatusBadRequest, client.CodeBadRequest},
		{"error/invalid-id", wrap(identity.ErrInvalidID), http.StatusBadRequest, client.CodeBadRequest},
		{"error/bad-csr", wrap(ca.ErrBadCSR), http.StatusBadRequest, client.CodeBadRequest},
		{"error/bad-identity", wrap(ca.ErrBadIdentity), http.StatusBadRequest, client.CodeBadRequest},
		{"error/bad-lifetime", wrap(ca.ErrBadLifetime), http.StatusBadRequest, client.CodeBadRequest},
		{"error/bad-request", wrap(errBadRequest), http.StatusBadRequest, client.CodeBadRequest},
		// Authentication wins over whatever it wraps: a refused operator
		// hears 401, not the reason.
		{"error/unauthenticated", fmt.Errorf("%w: %w", errUnauthenticated, ca.ErrNotOperator), http.StatusUnauthorized, client.CodeUnauthenticated},
		{"error/closed", wrap(store.ErrClosed), http.StatusInternalServerError, client.CodeInternal},
		{"error/expired-ca", wrap(ca.ErrExpired), http.StatusInternalServerError, client.CodeInternal},
		{"error/unknown", errors.New("disk on fire"), http.StatusInternalServerError, client.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := statusOf(tc.err)
			if status != tc.status || code != tc.code {
				t.Errorf("statusOf(%v) = %d %q, want %d %q", tc.err, status, code, tc.status, tc.code)
			}
		})
	}
}
