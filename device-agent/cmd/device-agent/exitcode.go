package main

import (
	"errors"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// Exit codes. A service manager restarts the agent on 1 (something that
// may pass) but not on 2, 3 or 4, which need a person: the systemd unit in
// the README lists them in RestartPreventExitStatus.
const (
	exitOK          = 0 // stopped by SIGTERM or SIGINT
	exitFailure     = 1 // anything else: TPM, state directory, clock
	exitUsage       = 2 // bad flags or configuration
	exitRevoked     = 3 // the broker or the provisioning service refuses the device
	exitNeedsEnroll = 4 // no usable certificate and no way to enroll alone
	exitRefused     = 5 // enrollment refused (EK not allowed or untrusted, policy)
)

// exitCode maps Run's error to the exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, agent.ErrRevoked):
		return exitRevoked
	case errors.Is(err, agent.ErrNeedsEnrollment):
		return exitNeedsEnroll
	case errors.Is(err, agent.ErrRefused):
		return exitRefused
	case errors.Is(err, agent.ErrConfig):
		return exitUsage
	default:
		return exitFailure
	}
}

// hint says what a person should do about an error that stopped the agent.
func hint(err error) string {
	switch {
	case errors.Is(err, agent.ErrRevoked):
		return "The device was revoked or suspended; it will not reconnect until an operator resumes it\n" +
			"(fleetgate device show <id>). Restarting the agent does not help.\n"
	case errors.Is(err, agent.ErrNeedsEnrollment):
		return "The device needs to enroll again: write a fresh one-time token to token_file, or ask an operator.\n"
	case errors.Is(err, agent.ErrRefused):
		return "The provisioning service refused the enrollment; its log names the failed check.\n"
	case errors.Is(err, agent.ErrClock):
		return "Set the device clock (NTP) and restart the agent.\n"
	case errors.Is(err, agent.ErrState):
		return "Check the state directory (state_dir); removing it makes the device enroll again.\n"
	default:
		return ""
	}
}
