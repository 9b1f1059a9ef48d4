package store

import (
	"errors"
	"sync"
	"time"
)

// fullness remembers whether the registry's storage ran out of room. A
// failed write sets it; the next write that commits clears it, because
// that write found room (a revocation may fit in pages an earlier
// deletion freed, so one refused write does not mean every write fails).
type fullness struct {
	mu    sync.Mutex
	since time.Time
	err   string
}

// observe records the outcome of one write transaction. Errors other than
// ErrRegistryFull say nothing about room and change nothing.
func (f *fullness) observe(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil:
		f.since, f.err = time.Time{}, ""
	case errors.Is(err, ErrRegistryFull):
		if f.since.IsZero() {
			f.since = time.Now().UTC()
		}
		f.err = err.Error()
	}
}

// state reports whether the storage is full, since when, and the latest
// error that said so.
func (f *fullness) state() (full bool, since time.Time, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.since.IsZero(), f.since, f.err
}
