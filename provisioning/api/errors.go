package api

import (
	"errors"
	"net/http"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// ErrConfig means a setting given to the API is out of range; the wrapping
// error names it.
var ErrConfig = errors.New("invalid API config")

// Errors raised by the HTTP layer itself; handlers wrap them with what was
// wrong and statusOf maps them like the registry's.
var (
	// errBadRequest means the request could not be understood: bad JSON, an
	// unknown field, an oversize body, a bad query parameter.
	errBadRequest = errors.New("bad request")
	// errUnauthenticated means the request carried no acceptable operator
	// certificate.
	errUnauthenticated = errors.New("operator client certificate required")
	// errForbidden means a read-only operator asked for a change.
	errForbidden = errors.New("read-only operator")
	// errCSRF means a browser asked for a change without the console's
	// CSRF token, or from another origin.
	errCSRF = errors.New("cross-site request refused")
	// errNoRoute means no route matches the method and path.
	errNoRoute = errors.New("no such route")
)

// statusOf is the one mapping from sentinel errors to HTTP status and stable
// code. Only the HTTP layer knows about statuses; the registry and the CA
// speak in sentinels.
func statusOf(err error) (int, wire.Code) {
	switch {
	case errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized, wire.CodeUnauthenticated
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, wire.CodeForbidden
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, wire.CodeCSRF
	case errors.Is(err, store.ErrNotFound), errors.Is(err, errNoRoute):
		return http.StatusNotFound, wire.CodeNotFound
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, wire.CodeExists
	case errors.Is(err, store.ErrPolicy):
		return http.StatusConflict, wire.CodePolicy
	case errors.Is(err, store.ErrState), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrReplayed):
		return http.StatusConflict, wire.CodeInvalidState
	case errors.Is(err, errBadRequest),
		errors.Is(err, store.ErrInvalid),
		errors.Is(err, identity.ErrInvalidID),
		errors.Is(err, ca.ErrBadCSR),
		errors.Is(err, ca.ErrBadIdentity),
		errors.Is(err, ca.ErrBadLifetime):
		return http.StatusBadRequest, wire.CodeBadRequest
	default:
		return http.StatusInternalServerError, wire.CodeInternal
	}
}

// fail writes err as the JSON error body. Internal errors are logged with
// their detail and answered with a generic message: the caller learns
// nothing about the server's insides.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	switch status {
	case http.StatusInternalServerError:
		a.log.Error("operator API request failed", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "err", err)
		msg = "internal error; the server log has the details"
	case http.StatusUnauthorized:
		// The log already says which check failed; the caller hears only
		// what to present.
		msg = errUnauthenticated.Error()
	}
	writeError(w, status, code, msg)
}

// writeError writes the one shape of every refusal, operator's and
// device's alike.
func writeError(w http.ResponseWriter, status int, code wire.Code, msg string) {
	writeJSON(w, status, wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}})
}
