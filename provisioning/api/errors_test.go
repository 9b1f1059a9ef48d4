package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
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
		code   wire.Code
	}{
		{"error/not-found", wrap(store.ErrNotFound), http.StatusNotFound, wire.CodeNotFound},
		{"error/no-route", errNoRoute, http.StatusNotFound, wire.CodeNotFound},
		{"error/exists", wrap(store.ErrExists), http.StatusConflict, wire.CodeExists},
		{"error/state", wrap(store.ErrState), http.StatusConflict, wire.CodeInvalidState},
		{"error/invalid", wrap(store.ErrInvalid), http.StatusBadRequest, wire.CodeBadRequest},
		{"error/invalid-id", wrap(identity.ErrInvalidID), http.StatusBadRequest, wire.CodeBadRequest},
		{"error/bad-csr", wrap(ca.ErrBadCSR), http.StatusBadRequest, wire.CodeBadRequest},
		{"error/bad-identity", wrap(ca.ErrBadIdentity), http.StatusBadRequest, wire.CodeBadRequest},
		{"error/bad-lifetime", wrap(ca.ErrBadLifetime), http.StatusBadRequest, wire.CodeBadRequest},
		{"error/bad-request", wrap(errBadRequest), http.StatusBadRequest, wire.CodeBadRequest},
		// Authentication wins over whatever it wraps: a refused operator
		// hears 401, not the reason.
		{"error/unauthenticated", fmt.Errorf("%w: %w", errUnauthenticated, ca.ErrNotOperator), http.StatusUnauthorized, wire.CodeUnauthenticated},
		{"error/registry-full", fmt.Errorf("register: %w: write registry.db: no space left on device", store.ErrRegistryFull), http.StatusInsufficientStorage, wire.CodeRegistryFull},
		{"error/closed", wrap(store.ErrClosed), http.StatusInternalServerError, wire.CodeInternal},
		{"error/expired-ca", wrap(ca.ErrExpired), http.StatusInternalServerError, wire.CodeInternal},
		{"error/unknown", errors.New("disk on fire"), http.StatusInternalServerError, wire.CodeInternal},
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
