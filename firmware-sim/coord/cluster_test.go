package coord

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// TestMarkedIDs: the bulk revocation names every Every-th device of each
// process, with the IDs the processes give their devices.
func TestMarkedIDs(t *testing.T) {
	o := Options{Procs: 3, Devices: 25, IDPrefix: "f-", Revoke: &Revoke{Every: 4}}
	got := o.markedIDs()
	// Shares 9, 8, 8: indexes 0, 4, 8 | 0, 4 | 0, 4.
	want := []string{"f-p0-000000", "f-p0-000004", "f-p0-000008", "f-p1-000000", "f-p1-000004", "f-p2-000000", "f-p2-000004"}
	if !slices.Equal(got, want) {
		t.Fatalf("markedIDs = %v, want %v", got, want)
	}
	if !fleet.Marked(8, 4) || fleet.Marked(7, 4) || fleet.Marked(0, 0) {
		t.Error("Marked: want every 4th index from 0, none for every 0")
	}
}

// TestRunRefusesRevokeWithoutBrokers: a coordinated revocation needs the
// broker processes, a positive every and a command; each missing one is
// refused before any process starts.
func TestRunRefusesRevokeWithoutBrokers(t *testing.T) {
	run := func(context.Context, []string) error { return nil }
	brokers := []Broker{{Addr: "127.0.0.1:8883"}}
	for name, o := range map[string]Options{
		"no brokers": {Revoke: &Revoke{Every: 10, Run: run}},
		"every 0":    {Brokers: brokers, Revoke: &Revoke{Run: run}},
		"no command": {Brokers: brokers, Revoke: &Revoke{Every: 10}},
	} {
		o.Procs, o.Devices, o.Binary, o.Out = 1, 10, "/nonexistent/firmware-sim", t.TempDir()
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: Run = %v, want ErrOptions", name, err)
		}
	}
}

// TestRevocationWait: the coordinator runs the revocation once every
// process publishes (After later), or, when one never does, Latest after
// the first began, with those publishing; a process counts as publishing
// from its first status line with messages on, a starved second after
// it included.
func TestRevocationWait(t *testing.T) {
	for _, tc := range []struct {
		name       string
		publishing int // of 2 processes
		want       int
	}{{"ok/every process publishing", 2, 2}, {"ok/one still ramping: bounded wait", 1, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			ran := make(chan struct{})
			o := Options{Procs: 2, Devices: 20, IDPrefix: "w-", Brokers: []Broker{{Addr: "127.0.0.1:1"}},
				Revoke: &Revoke{Every: 10, After: 50 * time.Millisecond, Latest: 500 * time.Millisecond,
					Run: func(context.Context, []string) error { close(ran); return nil }}}
			if tc.publishing == 1 {
				o.Revoke.After = time.Hour // only the bounded wait can start it
			}
			c, b := newClusterRun(o), newBoard(2)
			children := []*child{{index: 0}, {index: 1}}
			for i := range children {
				b.setRunning(i, true)
			}
			for i := range tc.publishing {
				b.set(i, status{sent: 5})
				b.set(i, status{sent: 0}) // a starved second
			}
			go c.watch(t.Context(), b, children)
			select {
			case <-ran:
			case <-time.After(time.Minute):
				t.Fatal("the revocation never ran")
			}
			<-c.revoked
			rv := c.rep.Revocation
			if rv.Procs != 2 || rv.ProcsPublishing != tc.want {
				t.Fatalf("revocation with %d of %d processes publishing, want %d of 2", rv.ProcsPublishing, rv.Procs, tc.want)
			}
			detail := c.checks(&report.Report{})[0].Detail
			if bounded := strings.Contains(detail, "bounded wait with 1 of 2 processes"); bounded != (tc.want == 1) {
				t.Errorf("check detail %q: says the bounded wait %v, want %v", detail, bounded, tc.want == 1)
			}
		})
	}
}

// TestFinishSplitsRevokedSessions: a revoked device's session that began
// while the bulk command ran (its part may not have been written yet) is
// counted apart; one that began after the command returned fails "stay
// out". Drops are timed from the return.
func TestFinishSplitsRevokedSessions(t *testing.T) {
	start := time.Unix(1000, 0)
	c := &clusterRun{o: Options{Revoke: &Revoke{Every: 2}}, start: start, end: start.Add(10 * time.Second),
		rep: report.Cluster{Revocation: &report.BulkRevocation{Devices: 3}}}
	at := func(s float64) int64 { return start.Add(time.Duration(s * float64(time.Second))).UnixNano() }
	r := &report.Report{Revocation: &report.Revocation{Revoked: 3, Dropped: 3, Probes: 1, ProbesRefused: 1, AgentStopped: 3,
		ReconnectedAfter: 3, // as the processes counted them: from the signal
		BackUnixNano:     []int64{at(1), at(9.5), at(12)},
		DropsUnixNano:    []int64{at(2), at(10.5), at(11)}}}
	c.finish(r)
	rv := r.Revocation
	if rv.ReconnectedDuring != 2 || rv.ReconnectedAfter != 1 || rv.BackUnixNano != nil {
		t.Fatalf("during %d, after %d (times %v), want 2 during, 1 after, times dropped", rv.ReconnectedDuring, rv.ReconnectedAfter, rv.BackUnixNano)
	}
	if got := c.rep.Revocation.OpenAtReturn; got != 2 {
		t.Errorf("open at return %d, want 2", got)
	}
	var stay *report.Check
	for _, ck := range fleet.Checks(r) {
		if ck.Name == "revoked devices stay out" {
			stay = &ck
		}
	}
	if stay == nil || stay.OK || !strings.Contains(stay.Detail, "1 sessions after revocation (2 more began while the command ran") {
		t.Fatalf("stay-out check %+v, want failed on the 1 session after the return", stay)
	}
	rv.ReconnectedAfter = 0
	for _, ck := range fleet.Checks(r) {
		if ck.Name == "revoked devices stay out" && !ck.OK {
			t.Fatalf("stay-out check failed with no session after the return: %+v", ck)
		}
	}
}

// TestRevocationChecksJudgeSessions: a bulk revocation is judged by the
// sessions there were to drop. A named device with no session as the
// command began (it was reconnecting) has nothing to drop; a revoked
// device still in a session at the end, a drop more than 2 s after the
// return, or a probe let in fails; a probe that got no answer in time
// does not prove a device got in.
func TestRevocationChecksJudgeSessions(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s float64) int64 { return start.Add(time.Duration(s * float64(time.Second))).UnixNano() }
	judge := func(adjust func(*report.Revocation)) map[string]report.Check {
		c := &clusterRun{o: Options{Revoke: &Revoke{Every: 2}}, start: start, end: start.Add(10 * time.Second),
			rep: report.Cluster{Revocation: &report.BulkRevocation{Devices: 4}}}
		r := &report.Report{Revocation: &report.Revocation{Revoked: 4, UpAtRevocation: 3, Dropped: 3,
			Probes: 3, ProbesRefused: 2, AgentStopped: 3, DropsUnixNano: []int64{at(2), at(9), at(10)},
			NoticedUnixNano: []int64{at(5), at(15), at(40)}}}
		adjust(r.Revocation)
		c.finish(r)
		out := map[string]report.Check{}
		for _, ck := range append(fleet.Checks(r), c.checks(r)...) {
			out[ck.Name] = ck
		}
		return out
	}
	const bulk = "bulk revocation drops every session within 2 s of the command's return"
	for _, name := range []string{"revoked devices dropped", "revoked devices stay out", bulk} {
		if ck := judge(func(*report.Revocation) {}); !ck[name].OK {
			t.Errorf("3 of 3 sessions dropped by the return, 1 probe unanswered: %q failed: %s", name, ck[name].Detail)
		}
	}
	for what, tc := range map[string]struct {
		adjust func(*report.Revocation)
		fails  []string
	}{
		"still up":     {func(r *report.Revocation) { r.StillUp = 1 }, []string{"revoked devices dropped", bulk}},
		"probe let in": {func(r *report.Revocation) { r.ProbesAdmitted = 1 }, []string{"revoked devices stay out"}},
		"late drop":    {func(r *report.Revocation) { r.DropsUnixNano[2] = at(12.5) }, []string{bulk}},
		"missed drop":  {func(r *report.Revocation) { r.DropsUnixNano = r.DropsUnixNano[:2] }, []string{bulk}},
	} {
		got := judge(tc.adjust)
		for _, name := range tc.fails {
			if got[name].OK {
				t.Errorf("%s: %q passed: %s", what, name, got[name].Detail)
			}
		}
	}
}
