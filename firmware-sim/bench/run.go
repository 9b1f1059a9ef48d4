package bench

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
)

// Metrics of the rows.
const (
	MetricConnects = "connects_per_second"
	MetricConnP99  = "connect_p99_ms"
	MetricQoS0     = "qos0_messages_per_second"
	MetricQoS1     = "qos1_messages_per_second"
	MetricIdle     = "idle_bytes_per_connection"       // resident memory at the end of the idle hold
	MetricIdleCPU  = "idle_cpu_percent_per_10k"        // CPU over the hold, % of one core per 10,000 connections
	MetricIdleGC   = "idle_alloc_bytes_per_second_10k" // bytes allocated per second over the hold, per 10,000 connections
)

// Run starts the contenders, measures them and returns the result.
func Run(ctx context.Context, cfg Config) (*report.Bench, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	start := time.Now()
	logf := func(f string, a ...any) { fmt.Fprintf(cfg.Log, "bench: "+f+"\n", a...) }
	if _, _, err := host.RaiseNoFile(uint64(cfg.Idle)*2 + 1024); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "firmware-sim-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	env := append([]string(nil), cfg.TargetEnv...)
	if cfg.GOGC != "" {
		env = append(env, "GOGC="+cfg.GOGC)
	}

	args := []string{"--log-level", "error"}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--ops-pprof")
	}
	srv, err := launch.Start(ctx, launch.Options{Binary: cfg.ServerBin, Args: args,
		Env: append(append([]string(nil), env...), cfg.FleetgateEnv...)})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	files, err := fleetgateFiles(srv, dir)
	if err != nil {
		return nil, err
	}
	roots, admin, err := operator(srv)
	if err != nil {
		return nil, err
	}
	defer admin.CloseIdleConnections()
	logf("enrolling %d devices through fleetgate (their certificates serve every contender)", cfg.Idle)
	devs, err := enrollDevices(ctx, admin, srv.API, roots, cfg.Idle, "bench-")
	if err != nil {
		return nil, err
	}

	fg := &contender{name: NameFleetgate, addr: srv.MQTT, pid: srv.PID, ops: srv.Ops, stop: func() {},
		desc:     "fleetgate serve: mTLS, registry lookup and CONNECT checks, ACL, revocation watch",
		settings: strings.TrimSpace("fleetgate serve as built (broker.Config defaults) " + strings.Join(cfg.FleetgateEnv, " "))}
	cs := []*contender{fg}
	for _, t := range []struct{ kind, name, desc, settings string }{
		{KindBare, NameBare, "bare crypto/tls listener: CONNACK, SUBACK, PUBACK and echo, nothing else", "same TLS policy as the broker"},
		{KindMochi, NameMochi, "mochi-mqtt v2 over mTLS, allow-all auth hook", "mochi defaults (8192 pending writes, 2 KiB buffers)"},
	} {
		if !cfg.runs(t.name) {
			continue
		}
		c, err := startTarget(ctx, cfg.TargetCommand, t.kind, files, env)
		if err != nil {
			stopAll(cs)
			return nil, err
		}
		c.name, c.desc, c.settings = t.name, t.desc, t.settings
		cs = append(cs, c)
	}
	if cfg.runs(NameMosquitto) {
		if bin := mosquittoBin(cfg.Mosquitto); bin != "" {
			c, err := startMosquitto(ctx, bin, dir, files)
			if err != nil {
				stopAll(cs)
				return nil, err
			}
			c.name, c.desc, c.settings = NameMosquitto, "Mosquitto (OpenSSL), require_certificate, use_identity_as_username", "set_tcp_nodelay true, no persistence"
			cs = append(cs, c)
		} else {
			logf("mosquitto not found: its column stays empty (apt-get install mosquitto)")
		}
	}
	defer stopAll(cs)

	res := &report.Bench{Started: start.UTC(), Settings: report.BenchSettings{
		Rounds: cfg.Rounds, RoundSeconds: cfg.Round.Seconds(), ConnectClients: cfg.ConnectClients,
		MessageClients: cfg.MessageClients, Window: cfg.Window, PayloadBytes: cfg.Payload, IdleConns: cfg.Idle, GOGC: cfg.GOGC,
		IdleHoldSeconds: cfg.IdleHold.Seconds(),
	}}
	m := &measurer{devs: devs, dialers: host.NewDialers(host.LoopbackSources("127.0.0.1", 8), 10*time.Second)}
	if err := measureAll(ctx, cfg, m, cs, res, logf); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Goals = goals(res)
	return res, nil
}

// measureAll runs the rounds, alternating the contenders' order, then the
// memory readings one contender at a time; rows not asked for are left
// out.
func measureAll(ctx context.Context, cfg Config, m *measurer, cs []*contender, res *report.Bench, logf func(string, ...any)) error {
	type acc struct {
		conns, q0, q1 int64
		connTime      time.Duration
		lat           *report.Sample
	}
	accs := make(map[string]*acc, len(cs))
	perRound := map[string]map[string][]float64{MetricConnects: {}, MetricQoS0: {}, MetricQoS1: {}}
	for _, c := range cs {
		accs[c.name] = &acc{lat: report.NewSample(0)}
	}
	conns, msgs := cfg.measures(RowConnects), cfg.measures(RowMessages)
	// A short unmeasured loop first: each server's first handshakes pay
	// for lazy initialisation, and fleetgate's for the enrollment burst.
	for _, c := range cs {
		if !conns && !msgs {
			break
		}
		if n, _, errs, _ := m.connects(ctx, c.addr, cfg.ConnectClients, cfg.Round/2, report.NewSample(0)); n == 0 {
			return fmt.Errorf("%w: %s: no warm-up connect succeeded (%d errors)", ErrContender, c.name, errs)
		}
	}
	for r := range cfg.Rounds {
		if !conns && !msgs {
			break
		}
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			a := accs[c.name]
			var cps, q0ps, q1ps float64
			var errs int64
			if conns {
				n, took, e, kx := m.connects(ctx, c.addr, cfg.ConnectClients, cfg.Round, a.lat)
				if n == 0 {
					return fmt.Errorf("%w: %s: no connect succeeded (%d errors)", ErrContender, c.name, e)
				}
				a.conns, a.connTime, c.keyExchange, errs = a.conns+n, a.connTime+took, kx, e
				cps = float64(n) / took.Seconds()
				perRound[MetricConnects][c.name] = append(perRound[MetricConnects][c.name], cps)
			}
			if msgs {
				q0, err := m.messages(ctx, c.addr, cfg.MessageClients, cfg.Window, 0, cfg.Payload, cfg.Round)
				if err != nil {
					return fmt.Errorf("%s QoS 0: %w", c.name, err)
				}
				q1, err := m.messages(ctx, c.addr, cfg.MessageClients, cfg.Window, 1, cfg.Payload, cfg.Round)
				if err != nil {
					return fmt.Errorf("%s QoS 1: %w", c.name, err)
				}
				a.q0, a.q1 = a.q0+q0, a.q1+q1
				q0ps, q1ps = float64(q0)/cfg.Round.Seconds(), float64(q1)/cfg.Round.Seconds()
				perRound[MetricQoS0][c.name] = append(perRound[MetricQoS0][c.name], q0ps)
				perRound[MetricQoS1][c.name] = append(perRound[MetricQoS1][c.name], q1ps)
			}
			logf("round %d %-10s connects/s %7.0f  qos0/s %8.0f  qos1/s %8.0f  (%d connect errors)", r+1, c.name, cps, q0ps, q1ps, errs)
		}
	}
	rows := map[string]map[string]float64{MetricConnects: {}, MetricConnP99: {}, MetricQoS0: {}, MetricQoS1: {}, MetricIdle: {}, MetricIdleCPU: {}, MetricIdleGC: {}}
	secs := cfg.Round.Seconds() * float64(cfg.Rounds)
	for _, c := range cs {
		a := accs[c.name]
		if conns {
			rows[MetricConnects][c.name] = float64(a.conns) / a.connTime.Seconds()
			rows[MetricConnP99][c.name] = a.lat.Summary().P99
		}
		if msgs {
			rows[MetricQoS0][c.name] = float64(a.q0) / secs
			rows[MetricQoS1][c.name] = float64(a.q1) / secs
		}
	}
	for _, c := range cs {
		if !cfg.measures(RowMemory) {
			break
		}
		logf("memory: %d idle connections to %s, held %s", cfg.Idle, c.name, cfg.IdleHold)
		run := idleRun{n: cfg.Idle, settle: cfg.Settle, hold: cfg.IdleHold}
		if c.ops != "" {
			run.probe, run.ops = &runtimeProbe{url: c.ops}, c.ops
			run.profileDir = cfg.ProfileDir
		}
		r, err := m.idle(ctx, c.addr, c.pid, run)
		if err != nil {
			return fmt.Errorf("%s idle memory: %w", c.name, err)
		}
		rows[MetricIdle][c.name], rows[MetricIdleCPU][c.name] = r.rss, r.cpu
		if r.alloc >= 0 {
			rows[MetricIdleGC][c.name] = r.alloc
		}
		logf("memory: %s %.1f KiB per idle connection after %s (%.1f KiB once settled), CPU %.2f%% of a core per 10,000", c.name, r.rss/1024, cfg.IdleHold, r.rssEarly/1024, r.cpu)
		if r.alloc >= 0 {
			logf("memory: %s allocated %.0f bytes/s per 10,000 idle connections", c.name, r.alloc)
		}
		if run.probe != nil {
			if per, err := run.probe.perConnection(cfg.Idle); err != nil {
				logf("memory: %s runtime metrics: %v", c.name, err)
			} else {
				res.Runtime = per
				logf("memory: %s per idle connection from its runtime: %s", c.name, formatRuntime(per))
			}
		}
	}
	for _, c := range cs {
		res.Contenders = append(res.Contenders, report.Contender{Name: c.name, Description: c.desc, KeyExchange: c.keyExchange, Settings: c.settings})
	}
	for _, r := range []struct {
		metric, unit string
		measured     bool
	}{
		{MetricConnects, "1/s", conns}, {MetricConnP99, "ms", conns}, {MetricQoS0, "1/s", msgs}, {MetricQoS1, "1/s", msgs},
		{MetricIdle, "bytes", cfg.measures(RowMemory)}, {MetricIdleCPU, "%", cfg.measures(RowMemory)},
		{MetricIdleGC, "B/s", cfg.measures(RowMemory)},
	} {
		if r.measured {
			res.Rows = append(res.Rows, report.BenchRow{Metric: r.metric, Unit: r.unit, Values: rows[r.metric], Rounds: perRound[r.metric]})
		}
	}
	return nil
}

// operator reads fleetgate's root and builds the admin client.
func operator(srv *launch.Server) (*x509.CertPool, *client.Client, error) {
	tlsCfg, err := client.LoadTLS(srv.CAFile(ca.AdminCertFile), srv.CAFile(ca.AdminKeyFile), srv.CAFile(ca.RootCertFile))
	if err != nil {
		return nil, nil, err
	}
	return tlsCfg.RootCAs, client.New(srv.API, tlsCfg), nil
}

func mosquittoBin(flag string) string {
	switch flag {
	case "-":
		return ""
	case "":
		for _, p := range []string{"/usr/sbin/mosquitto", "mosquitto"} {
			if b, err := exec.LookPath(p); err == nil {
				return b
			}
		}
		return ""
	}
	return flag
}

func stopAll(cs []*contender) {
	for _, c := range cs {
		c.stop()
	}
}

// NumCPU is recorded with the table: the ratios depend on it.
var NumCPU = runtime.NumCPU()
