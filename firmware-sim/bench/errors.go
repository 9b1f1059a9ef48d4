package bench

import "errors"

// ErrConfig is returned for settings the bench cannot run with.
var ErrConfig = errors.New("bench: invalid configuration")

// ErrContender is returned when a contender cannot be started or fails
// during a measurement.
var ErrContender = errors.New("bench: contender failed")

// ErrGoal is returned by the bench command when a goal was missed; the
// table says which.
var ErrGoal = errors.New("bench: goal missed")
