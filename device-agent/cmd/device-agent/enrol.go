package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/device-agent/agent"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Exit codes of `device-agent enrol`, the factory station's one shot: one
// per failure a station script branches on.
const (
	exitStationNoTPM       = 10 // the TPM cannot be opened
	exitStationEKNotAllow  = 11 // the EK is not on the factory allow-list (not in the imported batch)
	exitStationEKUntrusted = 12 // the EK certificate chains to no manufacturer root the server trusts
	exitStationUnreachable = 13 // the provisioning service or every broker gave no answer
	exitStationBroker      = 14 // the broker refused the new certificate
	exitStationRefused     = 15 // enrolment refused otherwise (policy, token)
	exitStationUnknown     = 16 // the registry does not know the device ID (not in any imported batch)
)

// stationResult is the one JSON line `device-agent enrol` prints.
type stationResult struct {
	agent.Enrolment
	// Status is "enrolled" or "already enrolled" (nothing changed).
	Status string `json:"status"`
}

// runEnrol is `device-agent enrol [flags]`: the same configuration as the
// daemon, one enrolment, one connection, one JSON line on stdout, exit.
// Logs go to stderr at level error unless -log-level or
// DEVICE_AGENT_LOG_LEVEL says otherwise, so a failure is one line there.
func runEnrol(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if getenv("DEVICE_AGENT_LOG_LEVEL") == "" && !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(strings.TrimLeft(a, "-"), "log-level")
	}) {
		args = append([]string{"-log-level", "error"}, args...)
	}
	cfg, opts, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err == nil {
		cfg.Logger, err = opts.logger(stderr)
	}
	var a *agent.Agent
	if err == nil {
		a, err = agent.New(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "device-agent enrol: usage: %s\n", oneLine(err))
		return exitUsage
	}
	got, err := a.Enrol(ctx)
	if err != nil {
		code, reason := stationCode(err)
		fmt.Fprintf(stderr, "device-agent enrol: %s: %s\n", reason, oneLine(err))
		return code
	}
	res := stationResult{Enrolment: got, Status: "enrolled"}
	if !got.Enrolled {
		res.Status = "already enrolled"
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(stderr, "device-agent enrol: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return exitOK
}

// stationCode maps Enrol's error to the station's exit code and the
// reason that starts its one line.
func stationCode(err error) (int, string) {
	switch {
	case errors.Is(err, agent.ErrNoTPM):
		return exitStationNoTPM, "TPM missing"
	case enroll.IsCode(err, wire.CodeEKNotAllowed):
		return exitStationEKNotAllow, "EK not allowed"
	case enroll.IsCode(err, wire.CodeEKUntrusted):
		return exitStationEKUntrusted, "EK untrusted"
	case enroll.IsCode(err, wire.CodeNotFound):
		return exitStationUnknown, "not in the batch"
	case errors.Is(err, agent.ErrUnreachable):
		return exitStationUnreachable, "server unreachable"
	case errors.Is(err, agent.ErrRevoked):
		return exitStationBroker, "refused by the broker"
	case errors.Is(err, agent.ErrRefused), errors.Is(err, agent.ErrNeedsEnrollment):
		return exitStationRefused, "enrolment refused"
	case errors.Is(err, agent.ErrConfig):
		return exitUsage, "usage"
	default:
		return exitFailure, "failed"
	}
}

// oneLine keeps a message on one line (errors.Join separates with
// newlines).
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
