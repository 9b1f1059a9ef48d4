package enroll_test

import (
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// An agent tells a refusal, which names the failed check, from a server it
// could not reach, which is worth retrying.
func ExampleIsCode() {
	var err error = fmt.Errorf("enroll: %w", &enroll.Error{Status: 409, Code: wire.CodeChallengeReplayed, Message: "the challenge was already used; start again"})
	switch {
	case errors.Is(err, enroll.ErrUnreachable):
		fmt.Println("retry later")
	case enroll.IsCode(err, wire.CodeChallengeReplayed), enroll.IsCode(err, wire.CodeChallengeExpired):
		fmt.Println("start again")
	default:
		fmt.Println("give up:", err)
	}
	// Output: start again
}
