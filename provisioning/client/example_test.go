package client_test

import (
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Callers branch on the kind of refusal with the Is helpers, or read the
// stable code with errors.As.
func ExampleAPIError() {
	var err error = &client.APIError{Status: 409, Code: wire.CodeInvalidState, Message: "device sensor-1 is revoked"}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Code, client.IsConflict(err), client.IsNotFound(err))
	}
	// Output: invalid_state true false
}
