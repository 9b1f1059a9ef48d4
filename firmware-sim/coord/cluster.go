package coord

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// Broker is one broker process of a target served by several. Child i
// drives Brokers[i % len]: each device stays on one broker, as behind a
// sticky load balancer.
type Broker struct {
	Addr string // host:port
	PID  int    // on this machine, for its memory; 0: not read
}

// Revoke is one bulk revocation of every Every-th device of each child
// (fleet.Marked), run once every child is publishing.
type Revoke struct {
	Every int
	// Group, when set, is the token group the marked devices enroll into:
	// the command can name it, and revokes exactly those that enrolled.
	Group string
	// After is the wait from every child publishing to the command.
	After time.Duration
	// Latest bounds the wait for the children: the command runs at the
	// latest this long after the first child began publishing, with the
	// children publishing by then, even if others are still ramping (a
	// child's window for the revocation closes at 3/4 of its steady
	// phase). Zero: wait for every child as long as the run lasts.
	Latest time.Duration
	// Run is the operator command revoking the devices named (every
	// marked ID) or Group; the coordinator signals the children as it
	// starts and times it.
	Run func(ctx context.Context, ids []string) error
}

// markedIDs are the IDs of the devices Revoke names.
func (o Options) markedIDs() []string {
	var ids []string
	for i := range o.Procs {
		prefix := childPrefix(o.IDPrefix, i)
		for idx := range share(o.Devices, o.Procs, i) {
			if fleet.Marked(idx, o.Revoke.Every) {
				ids = append(ids, fleet.DeviceID(prefix, idx))
			}
		}
	}
	return ids
}

func childPrefix(prefix string, i int) string { return fmt.Sprintf("%sp%d-", prefix, i) }

// clusterRun is the coordinator's own measurements of a run on Brokers.
type clusterRun struct {
	o       Options
	rep     report.Cluster
	revoked chan struct{} // closed when the revocation is done (or given up)
	start   time.Time     // the command's start and return
	end     time.Time
}

func newClusterRun(o Options) *clusterRun {
	c := &clusterRun{o: o, revoked: make(chan struct{})}
	for i, b := range o.Brokers {
		row := report.BrokerProc{Addr: b.Addr, PID: b.PID}
		for j := range o.Procs {
			if j%len(o.Brokers) == i {
				row.Devices += share(o.Devices, o.Procs, j)
			}
		}
		row.RSSBaseline = rssOf(b.PID)
		c.rep.Brokers = append(c.rep.Brokers, row)
	}
	return c
}

func rssOf(pid int) uint64 {
	if pid == 0 {
		return 0
	}
	v, _ := host.RSS(pid)
	return v
}

// watch waits until every child publishes (or Revoke.Latest after the
// first did), reads the brokers' memory, then runs the revocation:
// SIGUSR1 to every child, then the command.
func (c *clusterRun) watch(ctx context.Context, b *board, children []*child) {
	defer close(c.revoked)
	// The brokers' memory is read at the most sessions seen, so a run
	// that never reaches its publishing phase still reports it.
	most := int64(-1)
	read := func() {
		if n := b.sessions(); n > most {
			most = n
			for i := range c.rep.Brokers {
				c.rep.Brokers[i].RSSConnected = rssOf(c.rep.Brokers[i].PID)
			}
		}
	}
	rv := c.o.Revoke
	var deadline <-chan time.Time
	for {
		n, first := b.publishing()
		if n == len(children) {
			break
		}
		if deadline == nil && rv != nil && rv.Latest > 0 && !first.IsZero() {
			t := time.NewTimer(time.Until(first.Add(rv.Latest)))
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			read()
			c.runRevocation(ctx, b, children)
			return
		case <-time.After(2 * time.Second):
			read()
		}
	}
	read()
	if rv == nil {
		return
	}
	wait := time.NewTimer(rv.After)
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return
	case <-wait.C:
	case <-deadline:
	}
	c.runRevocation(ctx, b, children)
}

// runRevocation signals every child (SIGUSR1) and runs the command.
func (c *clusterRun) runRevocation(ctx context.Context, b *board, children []*child) {
	rv := c.o.Revoke
	publishing, _ := b.publishing()
	ids := c.o.markedIDs()
	for _, ch := range children {
		if pid := ch.procID(); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGUSR1)
		}
	}
	c.start = time.Now()
	err := rv.Run(ctx, ids)
	c.end = time.Now()
	c.rep.Revocation = &report.BulkRevocation{Devices: len(ids), CommandSeconds: c.end.Sub(c.start).Seconds(),
		Procs: len(children), ProcsPublishing: publishing}
	if err != nil {
		c.rep.Revocation.Error = err.Error()
	}
}

// finish puts the coordinator's measurements into the merged report.
func (c *clusterRun) finish(r *report.Report) {
	connected := r.Devices.Connected
	var base, conn uint64
	for i := range c.rep.Brokers {
		row := &c.rep.Brokers[i]
		base, conn = base+row.RSSBaseline, conn+row.RSSConnected
		if row.Devices > 0 && row.RSSConnected > row.RSSBaseline {
			row.PerDevice = float64(row.RSSConnected-row.RSSBaseline) / float64(row.Devices)
		}
	}
	r.Memory.BrokerSource, r.Memory.BrokerBaseline, r.Memory.BrokerConnected = "proc", base, conn
	r.Memory.BrokerPerDevice = 0
	if connected > 0 && conn > base {
		r.Memory.BrokerPerDevice = float64(conn-base) / float64(connected)
	}
	if rv := c.rep.Revocation; rv != nil && r.Revocation != nil {
		if c.o.Revoke.Group != "" {
			rv.Devices = r.Revocation.Revoked // the group's devices that enrolled
		}
		var after, fromStart []float64
		for _, at := range r.Revocation.DropsUnixNano {
			t := time.Unix(0, at)
			if t.After(c.end) {
				rv.OpenAtReturn++
			}
			after = append(after, max(0, ms(t.Sub(c.end))))
			fromStart = append(fromStart, ms(t.Sub(c.start)))
		}
		var noticed []float64
		for _, at := range r.Revocation.NoticedUnixNano {
			noticed = append(noticed, max(0, ms(time.Unix(0, at).Sub(c.end))))
		}
		slices.Sort(after)
		slices.Sort(noticed)
		rv.AfterReturn, rv.FromStart, rv.NoticedAfterReturn = summaryOf(after), summaryOf(fromStart), summaryOf(noticed)
		rv.AfterReturnMs = after
		r.Revocation.DropsUnixNano, r.Revocation.NoticedUnixNano = nil, nil
		// A revoked device is admitted until its part is written: only a
		// session that began after the command returned is one too many.
		r.Revocation.ReconnectedAfter, r.Revocation.ReconnectedDuring = 0, 0
		for _, at := range r.Revocation.BackUnixNano {
			if time.Unix(0, at).After(c.end) {
				r.Revocation.ReconnectedAfter++
			} else {
				r.Revocation.ReconnectedDuring++
			}
		}
		r.Revocation.BackUnixNano = nil
	}
	r.Cluster = &c.rep
}

// checks are the cluster run's own expectations.
func (c *clusterRun) checks(r *report.Report) []report.Check {
	rv := c.rep.Revocation
	if c.o.Revoke == nil {
		return nil
	}
	if rv == nil {
		return []report.Check{{Name: "bulk revocation", OK: false, Detail: "never ran: not every process reached its publishing phase"}}
	}
	// Every device in a session as the command began must be dropped, and
	// none left in one; devices without a session then (reconnecting) have
	// none to drop and are refused when they come back (stay out).
	dropped, up, still := int(rv.AfterReturn.Count), 0, 0
	if sv := r.Revocation; sv != nil {
		up, still = sv.UpAtRevocation, sv.StillUp
	}
	ok := rv.Error == "" && dropped >= up && dropped > 0 && still == 0 && rv.AfterReturn.Max <= 2000
	procs := ""
	if rv.ProcsPublishing < rv.Procs {
		procs = fmt.Sprintf(" (ran after the bounded wait with %d of %d processes publishing)", rv.ProcsPublishing, rv.Procs)
	}
	return []report.Check{{Name: "bulk revocation drops every session within 2 s of the command's return", OK: ok,
		Detail: fmt.Sprintf("%d devices named, %d in a session as the command began, %d sessions dropped, %d still up at the end; after the return p50 %.0f ms, p99 %.0f ms, max %.0f ms (as the devices' kernels received it; as the simulators noticed: p50 %.0f ms, p99 %.0f ms, max %.0f ms); command %.2f s%s %s",
			rv.Devices, up, dropped, still, rv.AfterReturn.P50, rv.AfterReturn.P99, rv.AfterReturn.Max,
			rv.NoticedAfterReturn.P50, rv.NoticedAfterReturn.P99, rv.NoticedAfterReturn.Max, rv.CommandSeconds, procs, rv.Error)}}
}

// summaryOf summarises every value of vals.
func summaryOf(vals []float64) report.Summary {
	d := report.SampleData{Count: int64(len(vals)), Values: vals}
	for i, v := range vals {
		d.Sum += v
		if i == 0 || v > d.Max {
			d.Max = v
		}
	}
	return report.SummaryOf(d)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
