package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// Options is a fleet split over Procs simulator processes.
type Options struct {
	Procs int
	// Binary is the firmware-sim executable the children run (this
	// program, usually).
	Binary string
	// Args are firmware-sim flags every child gets as they are: the
	// scenario (duration, publish interval, storm, revoke share, ...).
	Args []string
	// Env is extra environment every child gets over this process's
	// (GOMEMLIMIT=..., GOGC=...: each child's share of a memory budget).
	Env []string
	// Nice, when positive, is the niceness the children run at (through
	// nice(1)): simulated devices stand for hardware outside the service,
	// so on a machine they share with it they yield the CPU to it.
	Nice int

	// The fleet, split over the children: devices, TPM devices, rotated
	// devices, enrollments in flight and the connect rate. SourceAddrs
	// is per child (0: enough for its devices).
	Devices, TPMDevices, Rotate, MaxInflight int
	ConnectRate                              float64
	SourceAddrs                              int
	// IDPrefix is the fleet's device ID prefix; child i adds "p<i>-".
	// Empty: "sim-<random>-".
	IDPrefix string

	// Target is the server; with Start the coordinator starts it once
	// and the children drive it as a running server.
	Target    fleet.Target
	ServerLog io.Writer

	// Brokers, when set, are the broker processes of the target: child i
	// drives Brokers[i % len] instead of Target.Broker, and the report
	// gets each broker's memory (report.Cluster).
	Brokers []Broker
	// Revoke, when set, is a bulk revocation the coordinator runs mid-run
	// (it needs Brokers).
	Revoke *Revoke

	// Out receives proc-<i>/ (each child's report and logs) and
	// proc-<i>.log (its output).
	Out string
	// Progress receives a combined status line every ProgressEvery
	// (default 5s); nil shows none.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Run runs the children and returns their merged report. The error is
// fleet.ErrChecks (with the report) when a check failed on the merged
// report, else what stopped the run.
func Run(ctx context.Context, o Options) (*report.Report, error) {
	if o.Procs < 1 || o.Devices < o.Procs || o.Binary == "" {
		return nil, fmt.Errorf("%w: %d devices over %d processes (want at least one each), binary %q", ErrOptions, o.Devices, o.Procs, o.Binary)
	}
	if o.Revoke != nil && (len(o.Brokers) == 0 || o.Revoke.Every < 1 || o.Revoke.Run == nil) {
		return nil, fmt.Errorf("%w: a revocation needs brokers, a positive every and a command", ErrOptions)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.IDPrefix == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.IDPrefix = "sim-" + hex.EncodeToString(b) + "-"
	}
	t := o.Target
	if t.Start {
		// The server holds a socket per device: it inherits this limit.
		if _, _, err := host.RaiseNoFile(uint64(o.Devices) + 4096); err != nil {
			return nil, err
		}
		srv, err := launch.Start(ctx, launch.Options{Binary: t.ServerBin, Args: append([]string{"--log-level", "warn"}, t.ServerArgs...),
			Env: t.ServerEnv, Log: o.ServerLog})
		if err != nil {
			return nil, err
		}
		defer srv.Stop()
		t.API, t.Broker, t.OpsURL, t.ServerPID = srv.API, srv.MQTT, srv.Ops, srv.PID
		t.CAFile, t.AdminCert, t.AdminKey = srv.CAFile(ca.RootCertFile), srv.CAFile(ca.AdminCertFile), srv.CAFile(ca.AdminKeyFile)
	}
	children, err := o.children(t)
	if err != nil {
		return nil, err
	}
	b := newBoard(o.Procs)
	stopProgress := o.showProgress(b)
	var cl *clusterRun
	watchCtx, stopWatch := context.WithCancel(ctx)
	if len(o.Brokers) > 0 {
		cl = newClusterRun(o)
		go cl.watch(watchCtx, b, children)
	}
	err = runAll(ctx, o.command(), o.Env, children, b)
	stopWatch()
	if cl != nil {
		<-cl.revoked
	}
	stopProgress()
	if err != nil {
		return nil, err
	}
	parts := make([]*report.Report, len(children))
	for i, c := range children {
		if parts[i], err = c.report(); err != nil {
			return nil, err
		}
	}
	r, err := report.Merge(parts)
	if err != nil {
		return nil, err
	}
	for i, c := range children {
		r.Procs[i].PID, r.Procs[i].MaxRSS = c.pid, c.maxRSS
	}
	r.Scenario.IDPrefix = o.IDPrefix
	r.Server.StartedBySim = t.Start
	if cl != nil {
		cl.finish(r)
	}
	r.Checks = fleet.Checks(r)
	if cl != nil {
		r.Checks = append(r.Checks, cl.checks(r)...)
	}
	if len(r.Failed()) > 0 {
		return r, fleet.ErrChecks
	}
	return r, nil
}

// children lays out each child's share and arguments.
func (o Options) children(t fleet.Target) ([]*child, error) {
	out := make([]*child, o.Procs)
	first := 0
	for i := range out {
		n := share(o.Devices, o.Procs, i)
		sources := o.SourceAddrs
		if sources == 0 {
			sources = host.SourcesFor(n)
		}
		c := &child{index: i, out: filepath.Join(o.Out, fmt.Sprintf("proc-%d", i)), log: filepath.Join(o.Out, fmt.Sprintf("proc-%d.log", i))}
		itoa := strconv.Itoa
		broker, pid := t.Broker, t.ServerPID
		if len(o.Brokers) > 0 {
			broker, pid = o.Brokers[i%len(o.Brokers)].Addr, o.Brokers[i%len(o.Brokers)].PID
		}
		c.args = append(append([]string(nil), o.Args...),
			"--api", t.API, "--broker", broker, "--ca", t.CAFile, "--admin-cert", t.AdminCert, "--admin-key", t.AdminKey,
			"--server-pid", itoa(pid), "--ops", t.OpsURL,
			"--devices", itoa(n), "--tpm-devices", itoa(share(o.TPMDevices, o.Procs, i)), "--rotate", itoa(share(o.Rotate, o.Procs, i)),
			"--max-inflight", itoa(max(1, share(o.MaxInflight, o.Procs, i))),
			"--connect-rate", strconv.FormatFloat(o.ConnectRate/float64(o.Procs), 'g', -1, 64),
			"--id-prefix", childPrefix(o.IDPrefix, i),
			"--source-first", itoa(first), "--source-addrs", itoa(sources),
			"--keep-samples", "--out", c.out, "--name", "report", "--progress-every", "1s")
		if o.Revoke != nil {
			c.args = append(c.args, "--external-revoke", itoa(o.Revoke.Every))
			if o.Revoke.Group != "" {
				c.args = append(c.args, "--external-revoke-group", o.Revoke.Group)
			}
		}
		first += sources
		out[i] = c
	}
	if first > 250 {
		return nil, fmt.Errorf("%w: the processes need %d source addresses, 127.0.0.x has 250", ErrOptions, first)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	return out, nil
}

// command is how a child is started: the binary, under nice(1) when
// Nice is set; the child's own arguments follow.
func (o Options) command() []string {
	if o.Nice > 0 {
		return []string{"nice", "-n", strconv.Itoa(o.Nice), o.Binary}
	}
	return []string{o.Binary}
}

// runAll runs the children together; the first to fail stops the rest,
// and its error is returned.
func runAll(ctx context.Context, bin []string, env []string, children []*child, b *board) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for i, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = c.run(ctx, bin, env, b); errs[i] != nil {
				once.Do(func() { firstErr = errs[i]; cancel() })
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// showProgress prints the combined status every ProgressEvery, and once
// more when stopped.
func (o Options) showProgress(b *board) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(o.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(o.Progress, b.line())
				return
			case <-tick.C:
				fmt.Fprintln(o.Progress, b.line())
			}
		}
	}()
	return func() { close(done); <-finished }
}
