// Command device-agent runs on a device: it enrolls it with the fleet's
// provisioning service (TPM attestation or a one-time token), keeps its
// MQTT session to the broker and rotates its certificate before it
// expires. See device-agent/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if len(os.Args) > 1 && (os.Args[1] == "enrol" || os.Args[1] == "enroll") {
		os.Exit(runEnrol(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, opts, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "device-agent: %v\n", err)
		return exitUsage
	}
	log, err := opts.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "device-agent: %v\n", err)
		return exitUsage
	}
	cfg.Logger = log
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "device-agent: %v\n", err)
		return exitUsage
	}
	log.Info("device-agent starting", "version", version, "device", cfg.DeviceID, "key_source", cfg.KeySource,
		"brokers", cfg.BrokerList(), "provisioning", cfg.ProvisioningURL, "state_dir", cfg.StateDir)
	if opts.heartbeat > 0 {
		hbCtx, stopHB := context.WithCancel(ctx)
		defer stopHB()
		go heartbeat(hbCtx, a, opts.heartbeat, log)
	}
	err = a.Run(ctx)
	code := exitCode(err)
	if err != nil {
		log.Error("device-agent stopped", "err", err, "exit_code", code)
		fmt.Fprintf(stderr, "device-agent: %v\n%s", err, hint(err))
	} else {
		log.Info("device-agent stopped")
	}
	return code
}
