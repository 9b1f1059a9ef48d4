package server

import "errors"

// ErrInvalidConfig is wrapped by Validate, and so by Start, when a setting
// is out of range or two settings contradict each other; the message
// lists every one.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrClosed is returned by Reload once the server is closed.
var ErrClosed = errors.New("server closed")
