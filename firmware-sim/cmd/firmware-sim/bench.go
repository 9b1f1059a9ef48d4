package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/firmware-sim/bench"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// benchCommand is `make bench`: the broker against references, side by
// side, in one run.
func benchCommand() *cobra.Command {
	var cfg bench.Config
	var out, name string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the broker against a bare TLS listener, plain mochi and Mosquitto",
		Long: `bench starts fleetgate, a bare crypto/tls MQTT responder, plain mochi over
mTLS and Mosquitto (require_certificate), each in its own process with
fleetgate's certificates, enrolls --idle devices through fleetgate, and measures
with the same client in alternating rounds: connects/s, p99 connect latency,
QoS 0 and QoS 1 messages/s, and, with --idle devices held idle for
--idle-hold, resident memory per device at the end, CPU and (fleetgate)
bytes allocated per second. Every Go server runs with the same GOGC. It prints a
table with the goals' ratios and writes <out>/<name>.json and .html.
--contenders and --rows narrow the run (goals whose figures are missing are
left out); the memory row also breaks fleetgate's growth down by its Go
runtime metrics.

Exit status 3 when a goal was missed.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Log = cmd.ErrOrStderr()
			b, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			bench.PrintTable(cmd.OutOrStdout(), b)
			rep := &report.Report{Schema: report.SchemaVersion, Started: b.Started, Finished: b.Started, Seconds: b.Seconds, Bench: b}
			jsonPath, htmlPath, err := report.WriteFiles(out, name, rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n        %s\n", jsonPath, htmlPath)
			for _, g := range b.Goals {
				if !g.Met {
					return fmt.Errorf("%w: %s (%.2f, want %s)", bench.ErrGoal, g.Name, g.Value, g.Want)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ServerBin, "server-bin", "", "fleetgate binary (default: next to this program, then PATH)")
	f.StringVar(&cfg.Mosquitto, "mosquitto", "", `mosquitto binary (default /usr/sbin/mosquitto; "-" skips it)`)
	f.IntVar(&cfg.Rounds, "rounds", 5, "alternating rounds (the goals take the median of their ratios)")
	f.DurationVar(&cfg.Round, "round", 0, "length of each measurement in a round (default 3s)")
	f.IntVar(&cfg.ConnectClients, "connect-clients", 4, "concurrent connect loops")
	f.IntVar(&cfg.MessageClients, "message-clients", 8, "clients publishing to themselves")
	f.IntVar(&cfg.Window, "window", 32, "messages in flight per client")
	f.IntVar(&cfg.Payload, "payload", 64, "payload bytes")
	f.IntVar(&cfg.Idle, "idle", 10000, "idle connections for the memory row (and devices enrolled)")
	f.DurationVar(&cfg.Settle, "settle", 0, "wait before each memory reading (default 10s)")
	f.DurationVar(&cfg.IdleHold, "idle-hold", bench.DefaultIdleHold, "how long the memory row holds its idle connections before the steady-state reading")
	f.StringVar(&cfg.ProfileDir, "profile", "", "write fleetgate's allocation profile over the idle hold and its heap profile at the end to this directory (starts fleetgate with --ops-pprof)")
	f.StringVar(&cfg.GOGC, "gogc", "", "GOGC for every Go server (default: fleetgate's gc_percent, 400, for all)")
	f.StringArrayVar(&cfg.FleetgateEnv, "fleetgate-env", nil, "extra environment for fleetgate only, e.g. GOGC=100 (repeatable)")
	f.StringSliceVar(&cfg.Contenders, "contenders", nil, "servers to run: fleetgate (always), bare-tls, mochi, mosquitto (default all)")
	f.StringSliceVar(&cfg.Rows, "rows", nil, "measurements: connects, messages, memory (default all)")
	f.StringVar(&out, "out", "firmware-sim-report", "directory for the report")
	f.StringVar(&name, "name", "bench", "report file name without extension")
	return cmd
}

// benchTargetCommand serves one reference server for bench, in its own
// process as the broker is. Not for people: bench runs it.
func benchTargetCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "bench-target bare|mochi --cert F --key F --client-ca F [--listen ADDR]",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.TargetMain(cmd.Context(), args, cmd.OutOrStdout())
		},
	}
}
