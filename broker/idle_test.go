package broker

import (
	"testing"
	"time"
)

// TestIdleGC: a broker quiet for gcQuiet collects at IdleGCPercent; a connect or a
// message burst puts serve's target back at once, a trickle of messages
// does not; an operator's target already below idle stays.
func TestIdleGC(t *testing.T) {
	const quiet = time.Second
	c := newReleaseClock(t, quiet, 10)
	pct := func() int64 { c.count(); return c.gcPct.Load() }
	c.advance(0)
	if p := pct(); p != 400 {
		t.Fatalf("at start: target %d, want 400", p)
	}
	c.advance(quiet)
	if p := pct(); p != 400 {
		t.Fatalf("ok/quiet for less than gcQuiet: target %d, want 400 still", p)
	}
	c.advance(quiet)
	if p := pct(); p != IdleGCPercent {
		t.Fatalf("ok/quiet: target %d, want %d", p, IdleGCPercent)
	}
	c.churn(1)
	c.advance(quiet / 4)
	if p := pct(); p != 400 {
		t.Fatalf("ok/a session changed: target %d, want 400 back", p)
	}
	c.advance(2 * quiet)
	c.advance(quiet / 4)
	if p := pct(); p != IdleGCPercent {
		t.Fatalf("ok/quiet again: target %d, want %d", p, IdleGCPercent)
	}
	c.msgs.Add(5) // a trickle: below minChurn per tick
	c.advance(quiet / 4)
	if p := pct(); p != IdleGCPercent {
		t.Fatalf("ok/trickle: target %d, want %d still", p, IdleGCPercent)
	}
	c.msgs.Add(50) // load
	c.advance(quiet / 4)
	if p := pct(); p != 400 {
		t.Fatalf("ok/message load: target %d, want 400 back", p)
	}
}

// TestIdleGCLeavesLowerTargets: a target at or below idle, or the
// collector off, is the operator's choice and stays.
func TestIdleGCLeavesLowerTargets(t *testing.T) {
	for _, start := range []int{50, IdleGCPercent, -1} {
		cur := start
		g := idleGC{set: func(p int) int { prev := cur; cur = p; return prev }, idle: IdleGCPercent}
		g.quiet()
		g.busy()
		if cur != start || g.lowered {
			t.Errorf("start %d: target %d after quiet and busy (lowered %v), want %d", start, cur, g.lowered, start)
		}
	}
}
