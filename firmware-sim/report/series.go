package report

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Series counts events per second since a start time, for the charts
// over time (connects, disconnects, messages). Safe for concurrent use.
type Series struct {
	mu     sync.Mutex
	start  time.Time
	counts []int64
}

// NewSeries starts a series at start.
func NewSeries(start time.Time) *Series { return &Series{start: start} }

// Inc counts one event at t.
func (s *Series) Inc(t time.Time) { s.Add(t, 1) }

// Add counts n events at t; events before the start count in second 0.
func (s *Series) Add(t time.Time, n int64) {
	sec := max(int(t.Sub(s.start)/time.Second), 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.counts) <= sec {
		s.counts = append(s.counts, 0)
	}
	s.counts[sec] += n
}

// Counts returns a copy of the per-second counts, second 0 first.
func (s *Series) Counts() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.counts)
}

// Errors counts errors by kind (see the kinds in the fleet package).
// Safe for concurrent use.
type Errors struct {
	mu sync.Mutex
	m  map[string]int64
}

// NewErrors returns an empty count.
func NewErrors() *Errors { return &Errors{m: map[string]int64{}} }

// Inc counts one error of kind.
func (e *Errors) Inc(kind string) {
	e.mu.Lock()
	e.m[kind]++
	e.mu.Unlock()
}

// Get returns the count of one kind.
func (e *Errors) Get(kind string) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[kind]
}

// Map returns a copy of the counts.
func (e *Errors) Map() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.m)
}
