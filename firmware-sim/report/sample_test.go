package report

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, tc := range []struct {
		name string
		vals []float64
		p    float64
		want float64
	}{
		{"ok/empty", nil, 50, 0},
		{"ok/single", []float64{7}, 99, 7},
		{"ok/p50 of ten is the fifth", ten, 50, 5},
		{"ok/p95 of ten rounds up to the tenth", ten, 95, 10},
		{"ok/p90 of ten is the ninth", ten, 90, 9},
		{"ok/p99 of a hundred", hundred, 99, 99},
		{"ok/p100 is the max", hundred, 100, 100},
		{"ok/p0 is the min", hundred, 0, 1},
		{"ok/p1 of a hundred", hundred, 1, 1},
		{"ok/p above 100 clamps to max", ten, 150, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.vals, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.vals, tc.p, got, tc.want)
			}
		})
	}
}

func TestSampleSummary(t *testing.T) {
	s := NewSample(0)
	if got := s.Summary(); got != (Summary{}) {
		t.Errorf("empty summary %+v", got)
	}
	for i := 1; i <= 1000; i++ {
		s.Add(time.Duration(i) * time.Millisecond)
	}
	got := s.Summary()
	want := Summary{Count: 1000, Mean: 500.5, P50: 500, P95: 950, P99: 990, Max: 1000}
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
}

// TestSampleReservoir checks that a full sample keeps exact count, mean
// and max and a representative subset for the percentiles.
func TestSampleReservoir(t *testing.T) {
	s := NewSample(1000)
	const n = 100000
	for i := 1; i <= n; i++ {
		s.AddMillis(float64(i))
	}
	if v := s.Values(); len(v) != 1000 {
		t.Fatalf("kept %d values, want the cap 1000", len(v))
	}
	got := s.Summary()
	if got.Count != n || got.Max != n || got.Mean != (n+1)/2.0 {
		t.Errorf("exact parts %+v", got)
	}
	// A uniform subset of 1..n: p50 within 10% of n/2, p99 above 0.9n.
	if math.Abs(got.P50-n/2) > n/10 || got.P99 < 0.9*n {
		t.Errorf("percentiles of the reservoir are off: %+v", got)
	}
}

func TestHistogram(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals []float64
		want []Bucket
	}{
		{"ok/empty", nil, nil},
		{"ok/trimmed to the used range", []float64{0.7, 0.9, 1, 1.5, 3},
			[]Bucket{{LE: 1, Count: 3}, {LE: 2, Count: 1}, {LE: 5, Count: 1}}},
		{"ok/overflow bucket is -1", []float64{90000}, []Bucket{{LE: -1, Count: 1}}},
		{"ok/tiny values", []float64{0.01}, []Bucket{{LE: 0.1, Count: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Histogram(tc.vals)
			if len(got) != len(tc.want) {
				t.Fatalf("Histogram(%v) = %v, want %v", tc.vals, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("bucket %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSeries(t *testing.T) {
	start := time.Now()
	s := NewSeries(start)
	s.Inc(start.Add(-time.Second)) // before the start: second 0
	s.Inc(start.Add(500 * time.Millisecond))
	s.Add(start.Add(2500*time.Millisecond), 3)
	got := s.Counts()
	want := []int64{2, 0, 3}
	if len(got) != len(want) || got[0] != 2 || got[1] != 0 || got[2] != 3 {
		t.Errorf("counts %v, want %v", got, want)
	}
}
