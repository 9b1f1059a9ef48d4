package agent

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const min, max = time.Second, 2 * time.Minute
	tests := []struct {
		name string
		n    int
		u    float64
		want time.Duration
	}{
		{"ok/first-retry-floor", 1, 0, min},
		{"ok/first-retry-ceiling", 1, 0.999999999, 2 * time.Second},
		{"ok/third-retry-middle", 3, 0.5, min + (8*time.Second-min)/2},
		{"ok/capped", 12, 0.999999999, max},
		{"ok/huge-attempt-no-overflow", 500, 0.5, min + (max-min)/2},
		{"ok/zero-attempt-as-first", 0, 0, min},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backoff(min, max, tt.n, tt.u)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("backoff(%d, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
			}
			if got < min || got > max {
				t.Errorf("backoff(%d, %v) = %v outside [%v, %v]", tt.n, tt.u, got, min, max)
			}
		})
	}
}

func TestRotationTime(t *testing.T) {
	nb := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(30 * 24 * time.Hour)
	tests := []struct {
		name          string
		at, jitter, u float64
		want          time.Time
	}{
		{"ok/two-thirds", 2.0 / 3, 0, 0.7, nb.Add(20 * 24 * time.Hour)},
		{"ok/jitter-none-drawn", 2.0 / 3, 0.1, 0, nb.Add(20 * 24 * time.Hour)},
		{"ok/jitter-full", 2.0 / 3, 0.1, 1, nb.Add(17 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rotationTime(nb, na, tt.at, tt.jitter, tt.u)
			if d := got.Sub(tt.want); d < -time.Second || d > time.Second {
				t.Errorf("rotationTime = %v, want %v", got, tt.want)
			}
		})
	}
}
