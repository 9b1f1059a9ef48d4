package broker

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; messages wrap them
// with what was wrong.
var (
	// ErrConfig means a Config field is missing or out of range. The
	// wrapping error names the field.
	ErrConfig = errors.New("invalid broker config")

	// ErrStarted means Start was called on a broker that was already
	// started (or closed): a Broker serves once.
	ErrStarted = errors.New("broker already started")

	// ErrListen means the listening socket could not be opened, for
	// example because the port is taken.
	ErrListen = errors.New("broker cannot listen")

	// ErrRefused is returned to mochi when a CONNECT fails one of the
	// checks; the wrapping error carries the stable reason string that is
	// also logged. The device itself only hears "not authorized".
	ErrRefused = errors.New("connection refused")
)
