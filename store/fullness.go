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
	mu      sync.Mutex
	since   time.Time
	err     string
	refused uint64 // writes refused for want of room, ever
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
		f.refused++
	}
}

// fill copies the state into h: whether the storage is full, since when,
// the latest error that said so, and how many writes it refused.
func (f *fullness) fill(h *Health) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h.Full, h.FullSince, h.FullError, h.FullWrites = !f.since.IsZero(), f.since, f.err, f.refused
}
