package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// ErrUnreachable means the request got no answer from the server: nothing
// listening, the TLS handshake was refused (for example the server does not
// trust our certificate) or the context ended first.
var ErrUnreachable = errors.New("cannot reach the fleetgate server")

// APIError is a refusal answered by the server.
type APIError struct {
	Status  int       // HTTP status code
	Code    wire.Code // stable code: branch on it
	Message string    // what was wrong, for people
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server refused the request: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("server refused the request: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// IsNotFound reports whether err is a refusal because the device or
// certificate does not exist.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is a refusal because the record already
// exists or is in a state that does not allow the change.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsBadRequest reports whether err is a refusal of malformed or invalid input.
func IsBadRequest(err error) bool { return hasStatus(err, http.StatusBadRequest) }

// IsUnauthenticated reports whether err is a refusal because the request
// carried no acceptable operator certificate.
func IsUnauthenticated(err error) bool {
	return hasStatus(err, http.StatusUnauthorized) || hasStatus(err, http.StatusForbidden)
}

func hasStatus(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == status
}
