package report

import (
	"cmp"
	"slices"
)

// SampleData is what a Sample holds, for writing out and merging: the
// exact count, sum and maximum and the kept values (all of them up to
// the cap, a uniform subset beyond).
type SampleData struct {
	Count  int64     `json:"count"`
	Sum    float64   `json:"sum_ms"`
	Max    float64   `json:"max_ms"`
	Values []float64 `json:"values_ms"`
}

// Data returns a copy of what s holds, its values sorted.
func (s *Sample) Data() SampleData {
	v := s.Values()
	s.mu.Lock()
	defer s.mu.Unlock()
	return SampleData{Count: s.count, Sum: s.sum, Max: s.max, Values: v}
}

// MergeSamples joins samples taken apart (by several processes) into one.
// Count, sum and maximum stay exact. Each kept value stands for
// Count/len(Values) values of its sample, so a sample that had to thin
// out to its cap keeps its share in the percentiles (SummaryOf).
func MergeSamples(parts ...SampleData) SampleData {
	var out SampleData
	for _, p := range parts {
		if p.Count == 0 {
			continue
		}
		if out.Count == 0 || p.Max > out.Max {
			out.Max = p.Max
		}
		out.Count += p.Count
		out.Sum += p.Sum
		out.Values = append(out.Values, p.Values...)
	}
	slices.Sort(out.Values)
	return out
}

// SummaryOf summarises samples taken apart as if they were one: the
// percentiles are nearest-rank over every kept value, each weighted by
// how many values it stands for in its own sample. With every value kept
// that is exactly the summary of all values together.
func SummaryOf(parts ...SampleData) Summary {
	type wv struct{ v, w float64 }
	var vals []wv
	var count int64
	var sum, max float64
	for _, p := range parts {
		if p.Count == 0 || len(p.Values) == 0 {
			continue
		}
		if count == 0 || p.Max > max {
			max = p.Max
		}
		count += p.Count
		sum += p.Sum
		w := float64(p.Count) / float64(len(p.Values))
		for _, v := range p.Values {
			vals = append(vals, wv{v, w})
		}
	}
	if count == 0 {
		return Summary{}
	}
	slices.SortFunc(vals, func(a, b wv) int { return cmp.Compare(a.v, b.v) })
	var total float64
	for _, x := range vals {
		total += x.w
	}
	pct := func(p float64) float64 {
		target, acc := p/100*total, 0.0
		for _, x := range vals {
			acc += x.w
			if acc >= target {
				return x.v
			}
		}
		return vals[len(vals)-1].v
	}
	return Summary{
		Count: count,
		Mean:  round3(sum / float64(count)),
		P50:   round3(pct(50)),
		P95:   round3(pct(95)),
		P99:   round3(pct(99)),
		Max:   round3(max),
	}
}
