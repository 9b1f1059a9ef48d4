package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// idleResult is one contender's memory row: n connections opened, then
// held with nothing to do.
type idleResult struct {
	rssEarly float64 // resident growth per connection once they settled
	rss      float64 // the same at the end of the hold: the steady state
	cpu      float64 // CPU over the hold's second half, % of one core per 10,000 connections
	alloc    float64 // bytes allocated per second over the hold's second half per 10,000 connections; -1: unknown
}

// Profiles the memory row writes with a profile directory.
const (
	ProfileIdleStart = "fleetgate-idle-heap-start.pb.gz" // heap profile once the idle connections settled
	ProfileIdleEnd   = "fleetgate-idle-heap.pb.gz"       // heap profile at the end of the hold
	ProfileIdleCPU   = "fleetgate-idle-cpu.pb.gz"        // CPU profile over idleCPUProfile after the hold
)

// idleCPUProfile is how long the CPU profile after the hold runs (at most
// the hold): after, so that profiling's own cost is not in the hold's
// CPU figure.
const idleCPUProfile = 20 * time.Second

// allocMetric is the Go runtime's count of bytes ever allocated, on
// fleetgate's ops endpoint.
const allocMetric = "go_memstats_alloc_bytes_total"

// idleRun is how one contender's memory row is taken.
type idleRun struct {
	n            int
	settle, hold time.Duration
	probe        *runtimeProbe // fleetgate's runtime metrics; nil for the others
	ops          string        // fleetgate's ops URL for allocation counts and profiles; "" for the others
	profileDir   string        // where the idle profiles go; "" for none (needs ops with pprof)
}

// idle opens r.n idle connections to the contender with pid, waits
// settle, then holds them for r.hold and reads resident memory at its
// end, CPU and (with ops) allocations over its second half. Memory has no "settled" event:
// the waits are the measurement.
func (m *measurer) idle(ctx context.Context, addr string, pid int, r idleRun) (idleResult, error) {
	res := idleResult{alloc: -1}
	if r.n > len(m.devs) {
		return res, fmt.Errorf("%w: %d idle connections need as many devices, have %d", ErrConfig, r.n, len(m.devs))
	}
	// Let the previous phase's garbage be collected and its pages freed.
	if !wait(ctx, r.settle) {
		return res, ctx.Err()
	}
	base, err := host.RSS(pid)
	if err != nil {
		return res, err
	}
	r.probe.read(ctx, false)
	conns, err := m.hold(ctx, addr, r.n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if err != nil {
		return res, err
	}
	if !wait(ctx, r.settle) {
		return res, ctx.Err()
	}
	perConn := func() (float64, error) {
		rss, err := host.RSS(pid)
		if err != nil || rss < base {
			return 0, err // below base: the collector freed more than the connections took
		}
		return float64(rss-base) / float64(r.n), nil
	}
	if res.rssEarly, err = perConn(); err != nil {
		return res, err
	}
	// CPU and allocations are read over the second half of the hold: the
	// first half lets the aftermath of the connections (the broker's
	// memory release after a burst, a collection, the scavenger) finish,
	// which on a loaded machine can outlast the settle.
	if !wait(ctx, r.hold/2) {
		return res, ctx.Err()
	}
	window := r.hold - r.hold/2
	// The heap profile after a collection carries every allocation so
	// far (alloc_space): the one before the hold is the base of the one
	// after it. (A ?seconds= delta would be empty: the runtime publishes
	// allocations only at a collection, and an idle broker may run none.)
	// It is taken before the CPU and allocation readings start, so its
	// collection counts in neither.
	if r.profileDir != "" {
		if err := fetchProfile(ctx, r.ops+"/debug/pprof/heap?gc=1", filepath.Join(r.profileDir, ProfileIdleStart)); err != nil {
			return res, err
		}
	}
	// Scrape before the CPU reading starts and after it ends: a scrape
	// costs the server tens of milliseconds (it lists every open file for
	// process_open_fds), which is the bench's, not the idle broker's.
	alloc0, allocErr := m.allocated(ctx, r.ops)
	cpu0, err := host.CPUTime(pid)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if !wait(ctx, window) {
		return res, ctx.Err()
	}
	cpu1, err := host.CPUTime(pid)
	if err != nil {
		return res, err
	}
	took := time.Since(start)
	alloc1, err := m.allocated(ctx, r.ops)
	if allocErr == nil && err == nil && r.ops != "" {
		res.alloc = (alloc1 - alloc0) / took.Seconds() * 10000 / float64(r.n)
	}
	res.cpu = 100 * (cpu1 - cpu0).Seconds() / took.Seconds() * 10000 / float64(r.n)
	if res.rss, err = perConn(); err != nil {
		return res, err
	}
	r.probe.read(ctx, true)
	if r.profileDir != "" {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", r.ops, max(1, int(min(idleCPUProfile, r.hold).Seconds())))
		if err := fetchProfile(ctx, url, filepath.Join(r.profileDir, ProfileIdleCPU)); err != nil {
			return res, err
		}
		// What the idle connections hold (inuse_space), and with the first
		// profile as base, what allocated during the hold (alloc_space).
		if err := fetchProfile(ctx, r.ops+"/debug/pprof/heap?gc=1", filepath.Join(r.profileDir, ProfileIdleEnd)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// hold opens n connections with a keepalive long enough that none sends
// a PINGREQ during the measurement, 32 at a time.
func (m *measurer) hold(ctx context.Context, addr string, n int) ([]*mqttwire.Conn, error) {
	conns := make([]*mqttwire.Conn, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				dev := m.devs[i]
				var c *mqttwire.Conn
				var err error
				for try := 0; try < 3; try++ { // a loaded server may refuse a few
					cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					c, err = mqttwire.Dial(cctx, m.dialers.Next(), addr, dev.tls, dev.id, 3600)
					cancel()
					if err == nil {
						break
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return conns, fmt.Errorf("%w: idle connection: %w", ErrContender, err)
	}
	return conns, nil
}

// allocated reads fleetgate's bytes allocated so far; 0 without ops.
func (m *measurer) allocated(ctx context.Context, ops string) (float64, error) {
	if ops == "" {
		return 0, nil
	}
	v, err := scrape(ctx, strings.TrimRight(ops, "/")+"/metrics", []string{allocMetric})
	return v[allocMetric], err
}

// fetchProfile saves one pprof profile from url to path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrContender, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: profile: %w", ErrContender, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s (start fleetgate with --ops-pprof)", ErrContender, url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
