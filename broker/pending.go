package broker

import (
	"container/list"
	"sync"
)

// pendingSet holds the connections that have not authenticated yet, oldest
// first, up to a cap. When it is full, a new connection evicts the oldest
// one instead of being refused: a device completes its handshake and
// CONNECT in milliseconds, while a slowloris socket sits for the whole
// deadline, so the oldest pending socket is almost always an attacker's.
// Refusing the newcomer instead would let anyone who keeps max_pending
// idle sockets open lock every device out.
type pendingSet struct {
	mu  sync.Mutex
	max int
	l   *list.List // of *conn
}

func newPendingSet(max int) *pendingSet { return &pendingSet{max: max, l: list.New()} }

// add records c and returns the connection it evicted, if any; the caller
// closes the victim outside the lock.
func (p *pendingSet) add(c *conn) (victim *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l.Len() >= p.max {
		oldest := p.l.Front()
		victim = oldest.Value.(*conn)
		victim.pendingElem = nil
		p.l.Remove(oldest)
	}
	c.pendingElem = p.l.PushBack(c)
	return victim
}

// remove forgets c if it is still pending (authenticated or closed).
func (p *pendingSet) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pendingElem != nil {
		p.l.Remove(c.pendingElem)
		c.pendingElem = nil
	}
}

// len is the number of pending connections.
func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.l.Len()
}

// setMax changes the cap for connections added from now on.
func (p *pendingSet) setMax(max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max
}
