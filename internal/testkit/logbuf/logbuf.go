// Package logbuf is a log buffer for tests: safe for concurrent writers,
// readable at any time, and able to wait for a line to appear.
package logbuf

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects output and wakes waiters on each write. The zero value
// is ready to use.
type Buffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

// Write appends p and wakes anyone waiting in Await.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns the number of lines holding every part.
func (b *Buffer) Count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if containsAll(line, parts) {
			n++
		}
	}
	return n
}

// Await waits up to timeout for a line holding every part and returns it;
// it fails t when none comes.
func (b *Buffer) Await(t testing.TB, timeout time.Duration, parts ...string) string {
	t.Helper()
	var found string
	b.wait(t, timeout, func(lines []string) bool {
		for _, line := range lines {
			if containsAll(line, parts) {
				found = line
				return true
			}
		}
		return false
	}, "no log line with %q within %s", parts, timeout)
	return found
}

// AwaitCount waits up to timeout until at least n lines hold every part;
// it fails t otherwise.
func (b *Buffer) AwaitCount(t testing.TB, timeout time.Duration, n int, parts ...string) {
	t.Helper()
	b.wait(t, timeout, func(lines []string) bool {
		c := 0
		for _, line := range lines {
			if containsAll(line, parts) {
				c++
			}
		}
		return c >= n
	}, "fewer than %d log lines with %q within %s", n, parts, timeout)
}

// wait re-checks done after every write until it holds or timeout passes.
func (b *Buffer) wait(t testing.TB, timeout time.Duration, done func([]string) bool, format string, args ...any) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		lines := strings.Split(b.buf.String(), "\n")
		if b.notify == nil {
			b.notify = make(chan struct{})
		}
		notify := b.notify
		b.mu.Unlock()
		if done(lines) {
			return
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf(format+":\n%s", append(args, b.String())...)
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

// Logger returns a debug-level text logger writing into a new Buffer,
// whose content is logged under name if t fails.
func Logger(t testing.TB, name string) (*slog.Logger, *Buffer) {
	b := &Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s:\n%s", name, b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
