// Command firmware-sim runs thousands of simulated devices through the
// real device agent against a fleetgate server and writes a load report
// (JSON and one self-contained HTML page); `firmware-sim bench` compares
// the broker with a bare TLS listener, plain mochi and Mosquitto. See
// firmware-sim/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetgate/fleetgate/firmware-sim/bench"
	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "firmware-sim:", err)
		if errors.Is(err, fleet.ErrChecks) || errors.Is(err, bench.ErrGoal) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}
