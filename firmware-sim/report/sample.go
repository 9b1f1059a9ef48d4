package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// DefaultSampleCap is how many values a Sample keeps before it starts
// replacing them at random: enough for exact percentiles of a 100,000
// device run's connects, small enough (8 MiB) to never matter.
const DefaultSampleCap = 1 << 20

// Sample collects latencies for percentiles. It keeps every value up to
// its cap and then a uniform random subset (reservoir sampling, Algorithm
// R), so a long run neither grows without bound nor biases towards its
// start. Count, Max and Mean stay exact. Safe for concurrent use.
type Sample struct {
	mu    sync.Mutex
	cap   int
	vals  []float64 // milliseconds
	count int64
	sum   float64
	max   float64
	rng   *rand.Rand
}

// NewSample returns a sample keeping up to cap values (DefaultSampleCap
// when cap <= 0).
func NewSample(cap int) *Sample {
	if cap <= 0 {
		cap = DefaultSampleCap
	}
	return &Sample{cap: cap, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// Add records one duration.
func (s *Sample) Add(d time.Duration) { s.AddMillis(float64(d) / float64(time.Millisecond)) }

// AddMillis records one value in milliseconds.
func (s *Sample) AddMillis(ms float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.sum += ms
	if s.count == 1 || ms > s.max {
		s.max = ms
	}
	if len(s.vals) < s.cap {
		s.vals = append(s.vals, ms)
		return
	}
	if j := s.rng.Int64N(s.count); j < int64(s.cap) {
		s.vals[j] = ms
	}
}

// Values returns a sorted copy of the kept values.
func (s *Sample) Values() []float64 {
	s.mu.Lock()
	v := slices.Clone(s.vals)
	s.mu.Unlock()
	slices.Sort(v)
	return v
}

// Summary returns count, mean, p50/p95/p99 and max in milliseconds.
func (s *Sample) Summary() Summary { return SummaryOf(s.Data()) }

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values
// by the nearest-rank method: the smallest value such that at least p% of
// the values are less than or equal to it. It returns 0 for no values;
// p <= 0 gives the minimum.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// round3 keeps three decimals (microseconds), so the JSON stays readable.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
