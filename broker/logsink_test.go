package broker

import (
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// logSink is the broker's log in tests: a logbuf.Buffer whose await is
// bounded by the package's wait.
type logSink struct {
	logbuf.Buffer
}

func newLogSink() *logSink { return &logSink{} }

// await waits until one log line holds every part, and returns it.
func (l *logSink) await(t *testing.T, parts ...string) string {
	t.Helper()
	return l.Await(t, wait, parts...)
}
