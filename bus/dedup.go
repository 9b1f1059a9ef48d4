package bus

import "sync"

// Dedup remembers the last n message IDs seen, so that a message arriving
// on overlapping subscriptions is delivered once.
type Dedup struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

// NewDedup returns a Dedup remembering n IDs (n >= 1).
func NewDedup(n int) *Dedup {
	return &Dedup{seen: make(map[string]struct{}, n), ring: make([]string, n)}
}

// First reports whether id is new, and remembers it. An empty id is
// always new.
func (d *Dedup) First(id string) bool {
	if id == "" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.seen[id] = struct{}{}
	return true
}
