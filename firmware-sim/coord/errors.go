package coord

import "errors"

var (
	// ErrOptions is returned for options that cannot make a run.
	ErrOptions = errors.New("coord: bad options")
	// ErrChild is returned when a simulator process failed or wrote no
	// report.
	ErrChild = errors.New("coord: simulator process failed")
)
