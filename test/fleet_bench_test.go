package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/coord"
	simfleet "github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// fleetBench is the shape of BenchmarkFleet, from FLEETGATE_FLEET_*.
type fleetBench struct {
	devices, brokers, procs, revoke int
	nice                            int           // the simulators' niceness
	inflight                        int           // enrollments and connects in flight, all processes
	publish                         time.Duration // each device publishes once per publish
	ramp                            time.Duration // devices not connected by then count as failed
	retention                       time.Duration // the brokers' --bus-retention
	out                             string
}

// sessionsPerProcess is how many device sockets one process takes at
// most under the 20,000 open-file limit, leaving room for its listener,
// etcd, NATS, log files and sockets in TIME_WAIT or being accepted.
const sessionsPerProcess = 19000

func fleetBenchConfig(b *testing.B) fleetBench {
	env := func(name string, def int) int { return envCount(b, name, def) }
	c := fleetBench{devices: env("FLEETGATE_FLEET_DEVICES", 100000)}
	c.brokers = env("FLEETGATE_FLEET_BROKERS", (c.devices+sessionsPerProcess-1)/sessionsPerProcess)
	// Simulator processes: two per broker at least, each under the limit
	// with its enrollments in flight.
	c.procs = env("FLEETGATE_FLEET_PROCS", max(2*c.brokers, (c.devices+9999)/10000))
	c.revoke = env("FLEETGATE_FLEET_REVOKE", min(10000, c.devices/10))
	// Enrollment is bound by the API's CPU (TLS handshake, CSR checks,
	// signing), not by the registry: more in flight only queue longer.
	c.inflight = env("FLEETGATE_FLEET_INFLIGHT", 64)
	c.publish = envDuration(b, "FLEETGATE_FLEET_PUBLISH", defaultPublish(c.devices), time.Second)
	c.ramp = envDuration(b, "FLEETGATE_FLEET_RAMP", 30*time.Minute, time.Minute)
	c.nice = 10
	if v := os.Getenv("FLEETGATE_FLEET_NICE"); v != "" {
		var err error
		if c.nice, err = strconv.Atoi(v); err != nil || c.nice < 0 || c.nice > 19 {
			b.Fatalf("FLEETGATE_FLEET_NICE=%q: want 0 to 19", v)
		}
	}
	c.retention = envDuration(b, "FLEETGATE_FLEET_RETENTION", 2*time.Hour, time.Minute)
	c.out = os.Getenv("FLEETGATE_FLEET_OUT")
	if c.out == "" {
		c.out = filepath.Join("..", "bench-100k-report")
	}
	if per := (c.devices + c.brokers - 1) / c.brokers; per > sessionsPerProcess {
		b.Fatalf("%d devices over %d brokers is %d sessions per broker: over the %d a process holds under the 20,000 open-file limit",
			c.devices, c.brokers, per, sessionsPerProcess)
	}
	return c
}

// envDuration reads a duration of at least least from the environment
// variable name, def when it is unset.
func envDuration(b testing.TB, name string, def, least time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < least {
		b.Fatalf("%s=%q: want a duration of %s or more", name, v, least)
	}
	return d
}

// BenchmarkFleet runs the whole fleet on this machine: FLEETGATE_FLEET_DEVICES
// (100,000) mTLS devices of firmware-sim, split over simulator processes,
// against brokers on one etcd registry routed over one nats-server, with
// one API process. Every device enrolls with a token, connects to its
// broker (each simulator process drives one), publishes at QoS 1 and
// receives its message back; then one `fleetgate device revoke --group`
// revokes FLEETGATE_FLEET_REVOKE (10,000) of them, spread over every
// process and broker (they enrolled into that group), and each session
// must end within 2 s of the command's return. Devices not connected
// within FLEETGATE_FLEET_RAMP (30m) count as failed and the run goes on
// with the others. The report (JSON, HTML with charts) goes to
// bench-100k-report/. Run with `make bench-100k`.
func BenchmarkFleet(b *testing.B) {
	c := fleetBenchConfig(b)
	if _, _, err := host.RaiseNoFile(20000); err != nil {
		b.Fatal(err)
	}
	progress := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench-100k: "+f+"\n", a...) }
	progress("%d devices, %d brokers, %d simulator processes, %d revoked in one command, QoS 1 every %s", c.devices, c.brokers, c.procs, c.revoke, c.publish)
	mem := fleetMemoryPlan(b, c)
	progress("memory budget %.1f GiB: %.1f GiB headroom (etcd, kernel sockets, API, NATS), GOMEMLIMIT %s per simulator, %s per broker",
		gib(mem.budget), gib(mem.headroom), limit(mem.sim), limit(mem.broker))
	sim := bins.Build(b, "../firmware-sim/cmd/firmware-sim")
	ctl := bins.Fleetgate(b)

	// One etcd member: the registry's writes (100,000 enrollments) cost a
	// third of what three members cost on these two cores.
	ec := etcdtest.Start(b, 1)
	// JetStream's files on disk, not in TMPDIR (/dev/shm): it syncs them
	// every 2 minutes, not per message, so the disk costs it nothing, and
	// the page cache, unlike tmpfs, gives the memory back when the
	// processes need it.
	nsDir, err := os.MkdirTemp("/var/tmp", "fleet-nats-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(nsDir) })
	ns := natstest.StartIn(b, nsDir)
	f := &fleet{etcd: ec, registry: "etcd://" + strings.Join(ec.Endpoints(), ",") + "/fleet-bench"}
	quiet := []string{"--log-level", "warn"}
	f.api = startServer(b, b.TempDir(), append([]string{"--registry", f.registry, "--role", "api"}, quiet...)...)
	var brokers []coord.Broker
	for range c.brokers {
		// QoS 1 messages wait on the bus for devices that are away for
		// --bus-retention: long enough that nothing expires during the
		// run (runs 7 and 8 began to lose sessions about 10 minutes after
		// the first messages, as the stream began to expire them, README).
		// Info, not warn: each revocation drop is logged with its time, so
		// the drops are timed against the command's return where they
		// happen (brokerDropTimes), not only as the loaded simulators see them.
		s := f.startBroker(b, f.api.DataDir, "--bus", ns.URL, "--bus-retention", c.retention.String(),
			"--memory-limit", limit(mem.broker), "--log-level", "info")
		f.brokers = append(f.brokers, s)
		brokers = append(brokers, coord.Broker{Addr: s.MQTT, PID: s.PID})
	}
	progress("etcd, nats-server, the API and %d brokers are up", c.brokers)

	var dropsBefore dropHist // the brokers' drop histograms as the command starts
	var cmdStart, cmdReturn time.Time
	revoked := map[string]bool{} // the devices the command names
	o := coord.Options{
		Procs: c.procs, Binary: sim,
		// The steady phase: every device publishes once per interval; the
		// revocation comes one interval after the last process began
		// publishing (so every device has published), before 3/4 of it.
		Args: []string{"--qos", "1", "--publish-interval", c.publish.String(), "--duration", (4*c.publish + time.Minute).String(), "--settle", "5s",
			// Reconnects back off as the agent does by default (up to 2
			// minutes; the simulator's own default is 30 s, in force in
			// runs 6-15): with at most 10 s, a wave of lost sessions came
			// back as thousands of handshakes a second and took the rest
			// of the fleet down with it (README, run 5); with 30 s the
			// 10,000 revoked devices, whose handshakes a loaded broker
			// sheds before they hear their refusal, made 47,783 connect
			// attempts after the revocation (run 15).
			"--connect-wait", c.ramp.String(), "--backoff-max", "2m", "--log-level", "warn",
			// A PINGREQ a minute from 100,000 devices is 1,667 round trips
			// a second through TLS on both sides: more than the messages.
			"--keepalive", "5m",
			// The agent closes its enrollment connection itself; a relay
			// counting a starved agent's think time as idle cuts handshakes.
			"--api-idle-close", "-1s"},
		Devices: c.devices, MaxInflight: c.inflight, ConnectRate: 800, IDPrefix: "fleet-",
		// The simulated devices stand for hardware outside the service:
		// at niceness 10 they yield the two cores to etcd, NATS, the API
		// and the brokers whenever those have work (a bulk revocation on
		// etcd with every process at the same priority: ~55 devices/s).
		// FLEETGATE_FLEET_NICE sets it (0: the same priority as the
		// service; runs 5 and 6 at 10 lost sessions to keep-alive
		// timeouts after the revocation, README).
		Nice: c.nice,
		Target: simfleet.Target{API: f.api.API, CAFile: f.api.CAFile("root.crt"),
			AdminCert: f.api.CAFile("admin.crt"), AdminKey: f.api.CAFile("admin.key")},
		Brokers: brokers,
		// The revoked devices enroll into a group of their own: one
		// `device revoke --group` names those that enrolled.
		// GOMEMLIMIT: each simulator's share of the budget. GOGC stays at
		// Go's default (100): the limit bounds the peak, and a lower
		// GOGC costs CPU all the time (README: GOGC 50/100/200 measured).
		Env: []string{"GOMEMLIMIT=" + limit(mem.sim)},
		// Every device has published once an interval after its process
		// began publishing; a process's window for the revocation closes
		// 3/4 into its steady phase (3 intervals + 45 s), so the command
		// waits for the slowest process at most 2 intervals + 30 s after
		// the first began, then goes ahead with those publishing.
		Revoke: &coord.Revoke{Every: max(1, c.devices/c.revoke), Group: "revoke-me", After: c.publish + 5*time.Second,
			Latest: 2*c.publish + 30*time.Second,
			Run: func(ctx context.Context, ids []string) error {
				progress("revoking the group revoke-me (%d devices marked) with one command", len(ids))
				for _, id := range ids {
					revoked[id] = true
				}
				var err error
				if dropsBefore, err = brokerDrops(f.brokers); err != nil {
					return err
				}
				cmdStart = time.Now()
				cmd := exec.CommandContext(ctx, ctl, "device", "revoke", "--group", "revoke-me", "--reason", "bench-100k",
					"--timeout", "5m", "--wait", "1m", "--server", f.api.API, "--cert", f.api.CAFile("admin.crt"),
					"--key", f.api.CAFile("admin.key"), "--cacert", f.api.CAFile("root.crt"))
				out, err := cmd.CombinedOutput()
				cmdReturn = time.Now()
				progress("revocation command returned: %s", strings.TrimSpace(string(out)))
				if err != nil {
					return fmt.Errorf("fleetgate device revoke --group: %w: %s", err, out)
				}
				return nil
			}},
		Out: c.out, Progress: os.Stderr, ProgressEvery: 10 * time.Second,
	}
	ctx, cancel := context.WithCancelCause(b.Context())
	defer cancel(nil)
	go guardMemory(ctx, cancel, 768<<20, progress)
	rep, err := coord.Run(ctx, o)
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	if rep == nil {
		b.Fatal(err)
	}
	if !cmdReturn.IsZero() {
		logs := make([]string, len(f.brokers))
		for i, brk := range f.brokers {
			logs[i] = brk.Logs.String()
		}
		rep.Checks = append(rep.Checks, revokedSessionsCheck(brokerSessions(logs, revoked), cmdStart, cmdReturn))
	}
	jsonPath, htmlPath, werr := report.WriteFiles(c.out, "report", rep)
	if werr != nil {
		b.Fatal(werr)
	}
	var drops string // as the brokers measured them, from each part's commit
	if dropsBefore != nil {
		after, derr := brokerDrops(f.brokers)
		if derr != nil {
			b.Fatal(derr)
		}
		drops = after.since(dropsBefore).String()
		drops += "; by their logs: " + afterReturn(brokerDropTimes(f.brokers, cmdStart), cmdReturn)
	}
	printFleetSummary(b, c, rep, drops, streamWrites(natstest.JetStream(b, ns.URL)))
	b.Logf("report: %s, %s", jsonPath, htmlPath)
	if err != nil {
		b.Errorf("run: %v", err)
	}
}
