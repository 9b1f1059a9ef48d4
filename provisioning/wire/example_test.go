package wire_test

import (
	"encoding/json"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// A client decodes a refusal and branches on its code; the message is only
// shown to people.
func ExampleErrorBody() {
	raw := []byte(`{"error":{"code":"challenge_expired","message":"the challenge expired; start again"}}`)
	var body wire.ErrorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		panic(err)
	}
	switch body.Error.Code {
	case wire.CodeChallengeExpired, wire.CodeChallengeReplayed:
		fmt.Println("start the enrollment again")
	default:
		fmt.Println("refused:", body.Error.Message)
	}
	// Output: start the enrollment again
}

// Clients fill a route's wildcard with Expand; the server registers the
// same pattern.
func ExampleExpand() {
	fmt.Println(wire.Expand(wire.PathDeviceSuspend, "sensor-1"))
	// Output: /v1/devices/sensor-1/suspend
}
