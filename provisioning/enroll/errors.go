package enroll

import (
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// ErrUnreachable means the request got no answer: nothing listening, the
// TLS handshake failed, the connection broke or the context ended first.
// The agent retries later; a refusal is an *Error instead.
var ErrUnreachable = errors.New("enroll: provisioning service unreachable")

// Error is a refusal answered by the server.
type Error struct {
	Status  int       // HTTP status code
	Code    wire.Code // which check failed
	Message string    // for people; scripts branch on Code
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("enroll: refused: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("enroll: refused: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// IsCode reports whether err is (or wraps) a refusal with the given code.
func IsCode(err error, code wire.Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
