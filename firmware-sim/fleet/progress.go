package fleet

import (
	"fmt"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// startProgress shows live progress until the returned stop is called:
// two bars (enrolled, sessions up) with a status line on a terminal, or
// one status line every ProgressEvery otherwise (a log file, CI).
func (s *sim) startProgress() (stop func()) {
	w := s.cfg.Progress
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	if !s.cfg.ProgressTTY {
		go func() {
			defer close(finished)
			t := time.NewTicker(s.cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					fmt.Fprintln(w, s.status())
					return
				case <-t.C:
					fmt.Fprintln(w, s.status())
				}
			}
		}()
		return func() { close(done); <-finished }
	}

	n := int64(len(s.devices))
	p := mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithWidth(40))
	enrolled := p.AddBar(n,
		mpb.PrependDecorators(decor.Name("enrolled ", decor.WC{W: 10}), decor.CountersNoUnit("%d / %d", decor.WC{W: 16})),
		mpb.AppendDecorators(decor.Percentage()))
	up := p.AddBar(n,
		mpb.PrependDecorators(decor.Name("sessions ", decor.WC{W: 10}), decor.CountersNoUnit("%d / %d", decor.WC{W: 16})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return s.rates() })))
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			enrolled.SetCurrent(s.m.enrolled.Load())
			up.SetCurrent(s.m.up.Load())
			select {
			case <-done:
				enrolled.Abort(false)
				up.Abort(false)
				p.Wait()
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// status is the one-line progress report.
func (s *sim) status() string {
	m := s.m
	return fmt.Sprintf("t=%4.0fs enrolled=%d/%d sessions=%d peak=%d %s",
		time.Since(m.start).Seconds(), m.enrolled.Load(), len(s.devices), m.up.Load(), m.peak.Load(), s.rates())
}

// rates is the part of the status that changes fastest: the last full
// second's connects and messages, and the errors so far.
func (s *sim) rates() string {
	m := s.m
	sec := int(time.Since(m.start).Seconds()) - 1
	at := func(c []int64) int64 {
		if sec >= 0 && sec < len(c) {
			return c[sec]
		}
		return 0
	}
	var errs int64
	for _, n := range m.errs.Map() {
		errs += n
	}
	return fmt.Sprintf("connects/s=%d sent/s=%d received/s=%d errors=%d",
		at(m.connects.Counts()), at(m.sent.Counts()), at(m.received.Counts()), errs)
}
