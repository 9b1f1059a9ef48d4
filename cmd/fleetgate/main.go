// Command fleetgate runs the fleetgate server (broker + provisioning API over
// one registry) and the operator commands that talk to it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetgate:", err)
		os.Exit(cli.ExitCode(err))
	}
}

// run executes the command line args until ctx ends (SIGINT or SIGTERM).
func run(ctx context.Context, args []string) error {
	root := &cobra.Command{
		Use:           "fleetgate",
		Short:         "Device identity for MQTT fleets: mTLS broker, device CA and registry",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand())
	root.AddCommand(cli.Commands()...)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
