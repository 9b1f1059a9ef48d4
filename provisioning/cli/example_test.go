package cli_test

import (
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// A refusal from the server maps to an exit code a script can branch on.
func ExampleExitCode() {
	err := fmt.Errorf("show device: %w", &client.APIError{Status: 404, Code: wire.CodeNotFound})
	fmt.Println(cli.ExitCode(err) == cli.ExitNotFound, cli.ExitCode(nil))
	// Output: true 0
}
