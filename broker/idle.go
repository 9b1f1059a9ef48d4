package broker

// idleGC lowers the collector's target once the broker has been quiet
// for IdleGCAfter and puts it back at the first sign of load (within half
// a second: the release loop's tick).
//
// The server runs the collector at gc_percent 400 (server/gc.go): under
// a connect burst or message load, collecting at Go's default of 100
// costs a third of the message rate. But the same target lets the heap of
// a quiet broker grow to five times what is live before a collection: what
// little an idle fleet allocates (PINGREQs, a few messages, metrics
// scrapes) piles up, for hours, as resident memory. At idle, collecting
// at 100 costs nothing, so the broker does that while it is quiet.
// Switching is cheap (debug.SetGCPercent), and a target lowered below the
// current heap starts a collection at once, which is what a quiet broker
// wants.
type idleGC struct {
	set  func(int) int // debug.SetGCPercent; tests record calls instead
	idle int           // target while quiet

	lowered bool
	busyPct int // the target to put back
}

// quiet lowers the target, once, unless it is already at or below idle
// or the collector is off (-1, with a memory limit).
func (g *idleGC) quiet() {
	if g.lowered || g.set == nil {
		return
	}
	prev := g.set(g.idle)
	if prev <= g.idle {
		g.set(prev) // the operator's own lower target, or off: leave it
		return
	}
	g.lowered, g.busyPct = true, prev
}

// busy puts the target back if quiet lowered it.
func (g *idleGC) busy() {
	if !g.lowered {
		return
	}
	g.set(g.busyPct)
	g.lowered = false
}
