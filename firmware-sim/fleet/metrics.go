package fleet

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// metrics is everything the devices report while the run goes on. The
// hooks write it from the agents' goroutines; the phases and the progress
// display read it.
type metrics struct {
	start time.Time

	enroll, tls, connect, e2e *report.Sample
	rotate, revokeDelay       *report.Sample
	connects, disconnects     *report.Series
	sent, received            *report.Series
	errs                      *report.Errors

	enrolled, tpmEnrolled  atomic.Int64
	firstConnected         atomic.Int64 // devices that reached a first session
	up, peak               atomic.Int64 // sessions up now, at most
	attempts               atomic.Int64 // connect attempts
	failedAttempts         atomic.Int64
	published, acked, recv atomic.Int64
	queueFull              atomic.Int64

	mu       sync.Mutex
	timeline []report.Event
}

func newMetrics(start time.Time) *metrics {
	return &metrics{
		start:       start,
		enroll:      report.NewSample(0),
		tls:         report.NewSample(0),
		connect:     report.NewSample(0),
		e2e:         report.NewSample(0),
		rotate:      report.NewSample(0),
		revokeDelay: report.NewSample(0),
		connects:    report.NewSeries(start),
		disconnects: report.NewSeries(start),
		sent:        report.NewSeries(start),
		received:    report.NewSeries(start),
		errs:        report.NewErrors(),
	}
}

// sessionUp counts a session coming up and keeps the peak.
func (m *metrics) sessionUp(now time.Time) {
	m.connects.Inc(now)
	n := m.up.Add(1)
	for {
		p := m.peak.Load()
		if n <= p || m.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// sessionDown counts a session ending.
func (m *metrics) sessionDown(now time.Time) {
	m.disconnects.Inc(now)
	m.up.Add(-1)
}

// mark adds an event to the timeline.
func (m *metrics) mark(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timeline = append(m.timeline, report.Event{Seconds: roundTenth(time.Since(m.start).Seconds()), Name: name})
}

func (m *metrics) events() []report.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]report.Event(nil), m.timeline...)
}

func roundTenth(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
