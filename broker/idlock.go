package broker

import "sync"

// idLocks serialises session takeover per client ID. mochi's takeover
// (inheritClientSession: look up the existing client, disconnect it, then
// add the new one) is not atomic: two connections of one identity that
// reach it together both disconnect the same old client and both add
// themselves, and the one added first is overwritten in mochi's client
// map while its connection stays live, unrevocable by ID. Holding a
// per-ID lock from OnSessionEstablish (just before the takeover) until
// OnSessionEstablished (just after it) or the connection's close makes
// takeovers of one identity happen one at a time.
type idLocks struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock for id and returns its release, which is safe to
// call more than once.
func (l *idLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*idLock)
	}
	e := l.m[id]
	if e == nil {
		e = &idLock{}
		l.m[id] = e
	}
	e.refs++
	l.mu.Unlock()

	e.mu.Lock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Unlock()
			l.mu.Lock()
			e.refs--
			if e.refs == 0 {
				delete(l.m, id)
			}
			l.mu.Unlock()
		})
	}
}
