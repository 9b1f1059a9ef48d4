package report

import (
	"math"
	"slices"
)

// Bucket is one bar of a latency histogram: values up to LE milliseconds
// (and above the previous bucket's LE). The last bucket has LE = +Inf,
// written as -1 in JSON, which has no infinity.
type Bucket struct {
	LE    float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

// bounds are the histogram's upper bounds in milliseconds: 1-2-5 steps
// from 0.1 ms to 60 s, wide enough for a handshake on an idle machine and
// a reconnect through a storm.
var bounds = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000}

// Histogram counts sorted or unsorted values into the fixed buckets,
// dropping empty buckets at both ends so the chart shows the range that
// matters.
func Histogram(vals []float64) []Bucket {
	counts := make([]int64, len(bounds)+1)
	for _, v := range vals {
		i := 0
		for i < len(bounds) && v > bounds[i] {
			i++
		}
		counts[i]++
	}
	if len(vals) == 0 {
		return nil
	}
	return trimBuckets(counts)
}

// trimBuckets turns counts per bound into buckets, dropping empty ones at
// both ends.
func trimBuckets(counts []int64) []Bucket {
	lo, hi := 0, len(counts)-1
	for lo < hi && counts[lo] == 0 {
		lo++
	}
	for hi > lo && counts[hi] == 0 {
		hi--
	}
	out := make([]Bucket, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		le := math.Inf(1)
		if i < len(bounds) {
			le = bounds[i]
		}
		out = append(out, Bucket{LE: jsonInf(le), Count: counts[i]})
	}
	return out
}

// jsonInf maps +Inf to -1 for JSON.
func jsonInf(v float64) float64 {
	if math.IsInf(v, 1) {
		return -1
	}
	return v
}

// MergeHistograms adds histograms bucket by bucket: the result is the
// histogram of all their values together.
func MergeHistograms(hs ...[]Bucket) []Bucket {
	counts := make([]int64, len(bounds)+1)
	n := int64(0)
	for _, h := range hs {
		for _, b := range h {
			i, ok := slices.BinarySearch(bounds, b.LE)
			if b.LE < 0 {
				i, ok = len(bounds), true
			}
			if ok {
				counts[i] += b.Count
				n += b.Count
			}
		}
	}
	if n == 0 {
		return nil
	}
	return trimBuckets(counts)
}
