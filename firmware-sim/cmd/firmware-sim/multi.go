package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetgate/fleetgate/firmware-sim/coord"
	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
)

// coordinated are the flags the coordinator sets per child itself; the
// others go to every child as given.
var coordinated = map[string]bool{
	"procs": true, "start-server": true, "server-bin": true, "server-arg": true, "server-env": true,
	"api": true, "broker": true, "ca": true, "admin-cert": true, "admin-key": true, "server-pid": true, "ops": true,
	"devices": true, "tpm-devices": true, "rotate": true, "max-inflight": true, "connect-rate": true,
	"id-prefix": true, "source-addrs": true, "source-first": true, "keep-samples": true,
	"out": true, "name": true, "progress-every": true, "nice": true,
}

// runMulti splits the fleet over procs child processes of this program
// and writes their merged report.
func runMulti(cmd *cobra.Command, cfg fleet.Config, procs, nice int, out, name string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if nice < 0 || nice > 19 {
		return fmt.Errorf("%w: --nice %d: want 0 to 19", fleet.ErrConfig, nice)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	o := coord.Options{
		Procs: procs, Nice: nice, Binary: bin, Args: passedFlags(cmd.Flags()),
		Devices: cfg.Devices, TPMDevices: cfg.TPMDevices, Rotate: cfg.Rotate, MaxInflight: cfg.MaxInflight,
		ConnectRate: cfg.ConnectRate, SourceAddrs: cfg.SourceAddrs, IDPrefix: cfg.IDPrefix,
		Target: cfg.Target, Out: out, Progress: cmd.ErrOrStderr(), ProgressEvery: cfg.ProgressEvery,
	}
	if cfg.Target.Start {
		serverLog, err := os.Create(filepath.Join(out, "server.log"))
		if err != nil {
			return err
		}
		defer serverLog.Close()
		o.ServerLog = serverLog
	}
	rep, err := coord.Run(cmd.Context(), o)
	return writeReport(cmd.OutOrStdout(), out, name, rep, err)
}

// passedFlags returns the flags set on the command line that every child
// takes as they are.
func passedFlags(fs *pflag.FlagSet) []string {
	var args []string
	fs.Visit(func(f *pflag.Flag) {
		if coordinated[f.Name] {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}
