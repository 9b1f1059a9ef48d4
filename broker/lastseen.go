package broker

import (
	"sync"
	"time"
)

// seenLog remembers when each device last had a session on this broker:
// its admission and its disconnect. It lives in memory only, so it starts
// empty with the process and knows nothing of other brokers; the console
// says so where it shows it.
type seenLog struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (l *seenLog) mark(deviceID string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]time.Time)
	}
	l.m[deviceID] = at
}

func (l *seenLog) get(deviceID string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.m[deviceID]
	return t, ok
}

// LastSeen reports when the device last had a session on this broker: now
// while it is connected, else the time its last session ended, and false
// when it has not connected here since the broker started.
func (b *Broker) LastSeen(deviceID string) (time.Time, bool) {
	if b.Connected(deviceID) {
		return time.Now(), true
	}
	return b.seen.get(deviceID)
}
