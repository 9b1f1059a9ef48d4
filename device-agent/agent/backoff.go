package agent

import (
	"context"
	"time"
)

// backoff is the wait before retry number n (n >= 1) of something that
// failed: exponential with full jitter above a floor. The ceiling doubles
// from 2*min up to max, and the wait is drawn uniformly between min and
// that ceiling (u in [0,1)), so a fleet that lost its broker at the same
// instant comes back spread out instead of in one wave, and never retries
// faster than min.
func backoff(min, max time.Duration, n int, u float64) time.Duration {
	ceil := max
	if n < 1 {
		n = 1
	}
	if n < 62 { // beyond that the shift overflows; the ceiling is max anyway
		if c := min << n; c > 0 && c < max {
			ceil = c
		}
	}
	if ceil < min {
		ceil = min
	}
	return min + time.Duration(u*float64(ceil-min))
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
