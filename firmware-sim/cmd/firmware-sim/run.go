package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// rootCommand is the simulator itself; bench is a subcommand.
func rootCommand() *cobra.Command {
	var cfg fleet.Config
	var out, name, logLevel string
	var procs, nice int
	cmd := &cobra.Command{
		Use:   "firmware-sim",
		Short: "Run simulated devices through the device agent against a fleetgate server",
		Long: `firmware-sim runs N simulated devices, each with its own key and certificate,
through the real device-agent library: token enrollment (and, with --tpm-devices,
TPM attestation on swtpm), MQTT over mTLS, publishing, rotation under load, a
reconnect storm and revocation. It writes <out>/<name>.json and <out>/<name>.html.

One-command demo:  firmware-sim --start-server --devices 1000
Many processes:    firmware-sim --start-server --devices 100000 --procs 5
Running server:    firmware-sim --api https://host:8443 --broker host:8883 \
                     --ca root.crt --admin-cert admin.crt --admin-key admin.key

Exit status: 0 all checks held, 3 the run finished but a check failed,
1 the run could not be done.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if procs > 1 {
				return runMulti(cmd, cfg, procs, nice, out, name)
			}
			return runSim(cmd, cfg, out, name, logLevel)
		},
	}
	f := cmd.Flags()
	t := &cfg.Target
	f.BoolVar(&t.Start, "start-server", false, "start `fleetgate serve` with a temporary data directory (the binary next to this one, on PATH, or --server-bin)")
	f.StringVar(&t.ServerBin, "server-bin", "", "fleetgate binary for --start-server")
	f.StringArrayVar(&t.ServerArgs, "server-arg", nil, "extra `fleetgate serve` flag for --start-server (repeatable)")
	f.StringArrayVar(&t.ServerEnv, "server-env", nil, "extra environment variable for the started server, e.g. GOGC=400 (repeatable)")
	f.StringVar(&t.API, "api", "", "provisioning/operator API URL of a running server")
	f.StringVar(&t.Broker, "broker", "", "broker host:port of a running server")
	f.StringVar(&t.CAFile, "ca", "", "root CA (PEM) of a running server")
	f.StringVar(&t.AdminCert, "admin-cert", "", "operator certificate for tokens and revocation")
	f.StringVar(&t.AdminKey, "admin-key", "", "operator key")
	f.IntVar(&t.ServerPID, "server-pid", 0, "pid of a running server on this machine, to read its memory")
	f.StringVar(&t.OpsURL, "ops", "", "ops URL of a running server (its /metrics gives the memory when --server-pid is not set)")

	f.IntVar(&cfg.Devices, "devices", fleet.DefaultDevices, "devices in all")
	f.IntVar(&procs, "procs", 1, "split the devices over this many simulator processes (this program, run again) and merge their reports")
	f.IntVar(&nice, "nice", 0, "with --procs: run the simulator processes at this niceness (1-19), so that a server on the same machine keeps the CPU it needs")
	f.IntVar(&cfg.TPMDevices, "tpm-devices", 0, "of them, devices with a TPM (one swtpm process each; Debian swtpm)")
	f.StringVar(&cfg.IDPrefix, "id-prefix", "", "device ID prefix (default sim-<random>-: IDs are never reused)")
	f.StringVar(&cfg.Group, "group", fleet.DefaultGroup, "token group (created, allow_tokens)")
	f.IntVar(&cfg.TokenBatch, "token-batch", fleet.DefaultTokenBatch, "tokens per API call")
	f.Float64Var(&cfg.ConnectRate, "connect-rate", fleet.DefaultConnectRate, "devices started per second at full ramp")
	f.DurationVar(&cfg.Ramp, "ramp", fleet.DefaultRamp, "time to climb from 10% to 100% of --connect-rate")
	f.IntVar(&cfg.MaxInflight, "max-inflight", fleet.DefaultMaxInflight, "devices enrolling or connecting at once")
	f.IntVar(&cfg.SourceAddrs, "source-addrs", 0, "127.0.0.x source addresses to spread connections over (0: automatic)")
	f.IntVar(&cfg.SourceFirst, "source-first", 0, "skip this many 127.0.0.x source addresses (taken by another simulator process)")
	f.StringVar(&cfg.ProfileDir, "profile", "", "write the simulator's heap and goroutine profiles, taken with every device connected and idle, to this directory")
	f.BoolVar(&cfg.KeepSamples, "keep-samples", false, "put the latency samples into the JSON report, for merging the reports of several processes")
	f.DurationVar(&cfg.PublishInterval, "publish-interval", fleet.DefaultPublishInterval, "each device publishes once per interval")
	f.Uint8Var(&cfg.QoS, "qos", 1, "publish QoS (0 or 1)")
	f.IntVar(&cfg.PayloadSize, "payload", fleet.DefaultPayloadSize, "payload bytes (at least 16)")
	f.DurationVar(&cfg.Duration, "duration", fleet.DefaultDuration, "steady phase (rotation, storm and revocation happen at 1/4, 1/2, 3/4 of it)")
	f.DurationVar(&cfg.Settle, "settle", fleet.DefaultSettle, "idle wait after the ramp before the memory readings")
	f.BoolVar(&cfg.Storm, "storm", false, "drop every connection at once mid-run and wait for all to come back")
	f.IntVar(&cfg.Rotate, "rotate", 0, "devices to rotate under load (agent.Rotate)")
	f.Float64Var(&cfg.RevokeShare, "revoke", 0, "share of devices to revoke mid-run, e.g. 0.1")
	f.IntVar(&cfg.ExternalRevokeEvery, "external-revoke", 0, "every n-th device is revoked by a command outside this process (a coordinator's bulk revocation), which sends SIGUSR1 as it starts")
	f.StringVar(&cfg.ExternalRevokeGroup, "external-revoke-group", "", "token group of the devices --external-revoke marks (default: the same group as the rest)")
	f.DurationVar(&cfg.BackoffMin, "backoff-min", 0, "agent reconnect backoff floor (default 1s)")
	f.DurationVar(&cfg.BackoffMax, "backoff-max", 0, "agent reconnect backoff ceiling (default 30s)")
	f.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 0, "agent connect timeout (default 30s)")
	f.DurationVar(&cfg.KeepAlive, "keepalive", 0, "MQTT keepalive (default 60s)")
	f.DurationVar(&cfg.APIIdleClose, "api-idle-close", 0, "relay the agents' provisioning connections and close them after this idle time (default 2s; negative: connect directly)")
	f.DurationVar(&cfg.ConnectWait, "connect-wait", 0, "longest wait for the ramp to finish (default: 3x the ideal ramp, at least 1m)")
	f.DurationVar(&cfg.ProgressEvery, "progress-every", 0, "status line interval when stderr is not a terminal (default 5s)")
	f.StringVar(&out, "out", "firmware-sim-report", "directory for the report, sim.log and server.log")
	f.StringVar(&name, "name", "report", "report file name without extension")
	f.StringVar(&logLevel, "log-level", "warn", "level of <out>/sim.log: debug (agents too), info, warn, error")

	cmd.AddCommand(benchCommand(), benchTargetCommand())
	return cmd
}

func runSim(cmd *cobra.Command, cfg fleet.Config, out, name, logLevel string) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	if cfg.ExternalRevokeEvery > 0 {
		cfg.ExternalRevoke = onSignal(cmd.Context(), syscall.SIGUSR1)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(out, "sim.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cfg.Logger = slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: lvl}))
	if cfg.Target.Start {
		serverLog, err := os.Create(filepath.Join(out, "server.log"))
		if err != nil {
			return err
		}
		defer serverLog.Close()
		cfg.ServerLog = serverLog
	}
	cfg.Progress, cfg.ProgressTTY = cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr())

	rep, err := fleet.Run(cmd.Context(), cfg)
	return writeReport(cmd.OutOrStdout(), out, name, rep, err)
}

// writeReport writes the report of a run that ended with err, if there
// is one, prints its summary and returns err.
func writeReport(w io.Writer, out, name string, rep *report.Report, err error) error {
	if rep == nil {
		return err
	}
	jsonPath, htmlPath, werr := report.WriteFiles(out, name, rep)
	if werr != nil {
		return werr
	}
	printSummary(w, rep)
	fmt.Fprintf(w, "report: %s\n        %s\n", jsonPath, htmlPath)
	return err
}

// printSummary prints the headline numbers and the checks.
func printSummary(w io.Writer, r *report.Report) {
	fmt.Fprintf(w, "devices %d: enrolled %d (TPM %d), connected %d, peak sessions %d, failed %d\n",
		r.Devices.Requested, r.Devices.Enrolled, r.Devices.TPMEnrolled, r.Devices.Connected, r.Devices.ConnectedPeak, r.Devices.Failed)
	for _, l := range []struct {
		name string
		s    report.Summary
	}{{"TLS handshake", r.TLSHandshake}, {"CONNECT", r.Connect}, {"end to end", r.EndToEnd}, {"enrollment", r.Enrollment}} {
		fmt.Fprintf(w, "%-14s p50 %8.2f  p95 %8.2f  p99 %8.2f  max %8.2f ms  (%d)\n", l.name, l.s.P50, l.s.P95, l.s.P99, l.s.Max, l.s.Count)
	}
	fmt.Fprintf(w, "connects/s %.0f (peak second %d); messages/s sent %.0f received %.0f\n",
		r.ConnectRate.Ramp, r.ConnectRate.PeakSecond, r.Messages.SentPerSecond, r.Messages.ReceivedPerSecond)
	fmt.Fprintf(w, "memory per device: simulator %.1f KiB, broker %.1f KiB (%s)\n",
		r.Memory.SimPerDevice/1024, r.Memory.BrokerPerDevice/1024, r.Memory.BrokerSource)
	if rt := r.Memory.Sim; rt != nil {
		fmt.Fprintf(w, "simulator runtime per device: heap %.1f KiB, stacks %.1f KiB, %.1f goroutines; CPU %.1f s, of it GC %.1f s (%d cycles); peak RSS %.1f MiB\n",
			rt.HeapPerDevice/1024, rt.StackPerDevice/1024, rt.GoroutinesPerDevice, rt.CPUSeconds, rt.GCCPUSeconds, rt.GCCycles,
			float64(rt.MaxRSS)/(1<<20))
	}
	for _, p := range r.Procs {
		fmt.Fprintf(w, "process %d (pid %d): %d devices, %d connected, RSS %.1f MiB connected (max %.1f MiB), %.1f KiB per device\n",
			p.Index, p.PID, p.Devices, p.Connected, float64(p.RSSConnected)/(1<<20), float64(p.MaxRSS)/(1<<20), p.PerDevice/1024)
	}
	for _, c := range r.Checks {
		mark := "ok    "
		if !c.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
}

// onSignal returns a channel closed when sig first arrives (and until
// ctx ends, sig no longer stops the program).
func onSignal(ctx context.Context, sig os.Signal) <-chan struct{} {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig)
	out := make(chan struct{})
	go func() {
		defer signal.Stop(ch)
		select {
		case <-ch:
			close(out)
		case <-ctx.Done():
		}
	}()
	return out
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
