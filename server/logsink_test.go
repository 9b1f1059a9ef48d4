package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// wait bounds anything a test awaits; reached only when something is broken.
const wait = 30 * time.Second

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

// count is the number of lines holding every part.
func (l *logSink) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if containsAll(line, parts) {
			n++
		}
	}
	return n
}

// await waits until at least n lines hold every part.
func (l *logSink) await(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		l.mu.Lock()
		notify := l.notify
		l.mu.Unlock()
		if l.count(parts...) >= n {
			return
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("fewer than %d log lines with %q within %s:\n%s", n, parts, wait, l.String())
		}
	}
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
