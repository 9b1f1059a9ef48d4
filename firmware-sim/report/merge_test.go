package report

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// latencies returns n values spread like connect latencies: most small,
// a long tail.
func latencies(rng *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(int64(rng.ExpFloat64()*20*1000)) / 1000
	}
	return out
}

func sampleOf(cap int, vals []float64) *Sample {
	s := NewSample(cap)
	for _, v := range vals {
		s.AddMillis(v)
	}
	return s
}

// TestSummaryOfParts: the summary of two processes' samples is the
// summary of all their values together, exactly while every value is
// kept.
func TestSummaryOfParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		a, b int
	}{
		{"ok/equal halves", 500, 500},
		{"ok/uneven", 37, 1200},
		{"ok/one empty", 0, 300},
		{"ok/single values", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := latencies(rng, tc.a), latencies(rng, tc.b)
			all := sampleOf(0, append(append([]float64(nil), a...), b...))
			got := SummaryOf(sampleOf(0, a).Data(), sampleOf(0, b).Data())
			want := all.Summary()
			if got != want {
				t.Errorf("merged %+v, want %+v", got, want)
			}
			if m := MergeSamples(sampleOf(0, a).Data(), sampleOf(0, b).Data()); SummaryOf(m) != want {
				t.Errorf("MergeSamples summary %+v, want %+v", SummaryOf(m), want)
			}
		})
	}
}

// TestSummaryOfThinnedParts: a process that kept only a subset of its
// values (the reservoir) still weighs by all of them, so a big process's
// tail is not drowned by a small one's.
func TestSummaryOfThinnedParts(t *testing.T) {
	small := make([]float64, 1000) // 1 ms each, all kept
	big := make([]float64, 50000)  // 100 ms each, 1000 kept
	for i := range small {
		small[i] = 1
	}
	for i := range big {
		big[i] = 100
	}
	got := SummaryOf(sampleOf(0, small).Data(), sampleOf(1000, big).Data())
	if got.Count != 51000 || got.P50 != 100 || got.P95 != 100 || got.Max != 100 {
		t.Errorf("summary %+v: want count 51000 and p50 100 (the big process's values dominate)", got)
	}
	if unweighted := Percentile(append(small, big[:1000]...), 50); unweighted != 1 {
		t.Fatalf("setup: unweighted p50 %v, want 1", unweighted)
	}
}

// TestMergeHistograms: adding two histograms gives the histogram of all
// values, whatever range each covers.
func TestMergeHistograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := latencies(rng, 400), latencies(rng, 900)
	b = append(b, 0.05, 90000) // first and overflow bucket
	want := Histogram(append(append([]float64(nil), a...), b...))
	if got := MergeHistograms(Histogram(a), Histogram(b)); !reflect.DeepEqual(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	if got := MergeHistograms(nil, Histogram([]float64{3})); !reflect.DeepEqual(got, Histogram([]float64{3})) {
		t.Errorf("with an empty part: %v", got)
	}
	if got := MergeHistograms(nil, nil); got != nil {
		t.Errorf("no values: %v, want nil", got)
	}
}

// part is one process's report over vals, started at start.
func part(start time.Time, devices int, vals []float64, series []int64) *Report {
	s := sampleOf(0, vals)
	return &Report{
		Schema: SchemaVersion, Started: start, Finished: start.Add(10 * time.Second),
		Scenario:   Scenario{Devices: devices, ConnectRate: 10},
		Devices:    Devices{Requested: devices, Enrolled: devices, Connected: devices, ConnectedPeak: devices},
		Connect:    s.Summary(),
		Messages:   Messages{Published: 10, Received: 9},
		Errors:     map[string]int64{"x": 1},
		Memory:     Memory{SimBaseline: 100, SimConnected: 100 + uint64(devices)*1000, BrokerSource: "proc", BrokerBaseline: 50, BrokerConnected: 60},
		Timeline:   []Event{{Seconds: 0.5, Name: "ramp"}},
		Series:     map[string][]int64{"connects": series},
		Histograms: map[string][]Bucket{"connect": Histogram(vals)},
		Samples:    map[string]SampleData{SampleConnect: s.Data()},
	}
}

func TestMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := latencies(rng, 30), latencies(rng, 70)
	r, err := Merge([]*Report{part(t0, 30, a, []int64{10, 20}), part(t0.Add(2*time.Second), 70, b, []int64{30, 40})})
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]float64(nil), a...), b...)
	if r.Devices.Requested != 100 || r.Devices.Connected != 100 || r.Scenario.Devices != 100 || r.Scenario.ConnectRate != 20 {
		t.Errorf("devices %+v, scenario %+v: want 100 devices, rate 20", r.Devices, r.Scenario)
	}
	if want := sampleOf(0, all).Summary(); r.Connect != want {
		t.Errorf("connect %+v, want %+v", r.Connect, want)
	}
	if want := Histogram(all); !reflect.DeepEqual(r.Histograms["connect"], want) {
		t.Errorf("histogram %v, want %v", r.Histograms["connect"], want)
	}
	if want := []int64{10, 20, 30, 40}; !reflect.DeepEqual(r.Series["connects"], want) {
		t.Errorf("connects series %v, want %v (the second part shifted by 2 s)", r.Series["connects"], want)
	}
	if r.ConnectRate.PeakSecond != 40 || r.Messages.Published != 20 || r.Errors["x"] != 2 || r.Seconds != 12 {
		t.Errorf("peak %d, published %d, errors %v, seconds %v", r.ConnectRate.PeakSecond, r.Messages.Published, r.Errors, r.Seconds)
	}
	if r.Memory.SimPerDevice != 1000 || r.Memory.BrokerPerDevice != 0.1 {
		t.Errorf("memory %+v: want 1000 B per device in the simulators, 0.1 in the broker", r.Memory)
	}
	if len(r.Procs) != 2 || r.Procs[1].Devices != 70 || r.Procs[1].PerDevice != 0 || r.Procs[1].RSSConnected != 70100 {
		t.Errorf("procs %+v", r.Procs)
	}
	if r.Samples != nil || len(r.Timeline) != 1 || r.Timeline[0].Seconds != 0.5 {
		t.Errorf("samples %v, timeline %v: want none and the first ramp", r.Samples, r.Timeline)
	}
	if _, err := Merge([]*Report{{Schema: SchemaVersion}}); !errors.Is(err, ErrNoSamples) {
		t.Errorf("without samples: %v, want ErrNoSamples", err)
	}
}
