package coord

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// status is what one child's latest status line says (fleet's
// "t=... enrolled=a/b sessions=n peak=n connects/s=n sent/s=n
// received/s=n errors=n").
type status struct {
	enrolled, devices, sessions, peak int64
	connects, sent, received, errs    int64
}

// parseStatus reads a child's status line; ok is false for any other
// line.
func parseStatus(line string) (st status, ok bool) {
	if !strings.HasPrefix(line, "t=") {
		return status{}, false
	}
	fields := map[string]*int64{
		"sessions": &st.sessions, "peak": &st.peak, "connects/s": &st.connects,
		"sent/s": &st.sent, "received/s": &st.received, "errors": &st.errs,
	}
	seen := 0
	for _, f := range strings.Fields(line) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			continue
		}
		if k == "enrolled" {
			a, b, _ := strings.Cut(v, "/")
			st.enrolled, _ = strconv.ParseInt(a, 10, 64)
			st.devices, _ = strconv.ParseInt(b, 10, 64)
			seen++
			continue
		}
		if p := fields[k]; p != nil {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return status{}, false
			}
			*p = n
			seen++
		}
	}
	return st, seen == len(fields)+1
}

// board holds every child's latest status.
type board struct {
	mu      sync.Mutex
	start   time.Time
	byChild []status
	running []bool
	// published: the child has sent messages in some status line (it
	// reached its publishing phase); firstPub is when the first did.
	published []bool
	firstPub  time.Time
}

func newBoard(procs int) *board {
	return &board{start: time.Now(), byChild: make([]status, procs), running: make([]bool, procs), published: make([]bool, procs)}
}

func (b *board) set(i int, st status) {
	b.mu.Lock()
	b.byChild[i] = st
	if st.sent > 0 && !b.published[i] {
		b.published[i] = true
		if b.firstPub.IsZero() {
			b.firstPub = time.Now()
		}
	}
	b.mu.Unlock()
}

// publishing returns how many running children have reached their
// publishing phase, and when the first did (zero: none yet). A child
// that reached it stays counted: a status line without messages (a
// starved second) does not take it back.
func (b *board) publishing() (n int, first time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.published {
		if b.published[i] && b.running[i] {
			n++
		}
	}
	return n, b.firstPub
}

func (b *board) setRunning(i int, running bool) {
	b.mu.Lock()
	b.running[i] = running
	b.mu.Unlock()
}

// sessions is the children's sessions up, in all.
func (b *board) sessions() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, st := range b.byChild {
		n += st.sessions
	}
	return n
}

// line is the combined status of all children.
func (b *board) line() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum status
	running := 0
	for i, st := range b.byChild {
		sum.enrolled += st.enrolled
		sum.devices += st.devices
		sum.sessions += st.sessions
		sum.peak += st.peak
		sum.connects += st.connects
		sum.sent += st.sent
		sum.received += st.received
		sum.errs += st.errs
		if b.running[i] {
			running++
		}
	}
	return fmt.Sprintf("t=%4.0fs procs=%d/%d enrolled=%d/%d sessions=%d peak=%d connects/s=%d sent/s=%d received/s=%d errors=%d",
		time.Since(b.start).Seconds(), running, len(b.byChild), sum.enrolled, sum.devices, sum.sessions, sum.peak,
		sum.connects, sum.sent, sum.received, sum.errs)
}
