package broker

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// logSink collects log lines and wakes waiters on each one.
type logSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newLogSink() *logSink { return &logSink{notify: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.notify)
	l.notify = make(chan struct{})
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// await waits until one log line holds every part, and returns it.
func (l *logSink) await(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(wait)
	for {
		l.mu.Lock()
		lines := strings.Split(l.buf.String(), "\n")
		notify := l.notify
		l.mu.Unlock()
		for _, line := range lines {
			if containsAll(line, parts) {
				return line
			}
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("no log line with %q within %s", parts, wait)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
