package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// Exit codes of the operator commands. Scripts may rely on them.
const (
	ExitOK          = 0 // the command did what was asked
	ExitInternal    = 1 // unexpected failure, on our side or the server's
	ExitUsage       = 2 // wrong arguments or flags
	ExitNotFound    = 3 // the device or certificate does not exist
	ExitConflict    = 4 // it already exists, or its state forbids the change
	ExitBadInput    = 5 // the server (or a local check) refused the input
	ExitUnreachable = 6 // cannot reach or authenticate to the server
	ExitFull        = 7 // the registry's storage is full: nothing was written
	// ExitUnconfirmed: the revocation is recorded, but not every broker
	// confirmed within the wait that it dropped the sessions it ends.
	ExitUnconfirmed = 8
)

// exitCodesHelp is appended to the Long help of every command group.
const exitCodesHelp = `
Exit codes:
  0  ok
  1  unexpected or internal error
  2  usage error (arguments or flags)
  3  not found
  4  conflict: already exists, or the current state forbids the change
  5  bad input, refused by the server or by a local check
  6  cannot reach or authenticate to the server, or the operator's role forbids the change
  7  the registry's storage is full (disk or etcd quota); nothing was written
  8  a revocation is recorded, but not every broker confirmed within the wait
     that it dropped the sessions (those named may still hold them)`

// errBadInput marks input refused before it reached the server (an
// unreadable CSR file, a key file that already exists).
var errBadInput = errors.New("bad input")

// errConflict marks a change a local check found the current state to
// forbid (devices still depending on what is to be retired).
var errConflict = errors.New("conflict")

// errUnconfirmed marks a revocation that is recorded but that not every
// broker confirmed in force.
var errUnconfirmed = errors.New("not confirmed by every broker")

// usageError marks wrong arguments or flags.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// cobraUsagePrefixes are the starts of the messages cobra and pflag produce
// for bad command lines that do not pass through our flag error function
// (for example on the binary's own root command).
var cobraUsagePrefixes = []string{
	"unknown command", "unknown flag", "unknown shorthand flag", "required flag",
	"invalid argument", "flag needs an argument", "accepts ", "requires at least",
	"requires at most", "if any flags in the group",
}

// ExitCode maps an error returned by the commands to the process exit code
// (see the Exit constants).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var usage *usageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		switch {
		case client.IsNotFound(err):
			return ExitNotFound
		case client.IsConflict(err):
			return ExitConflict
		case client.IsBadRequest(err):
			return ExitBadInput
		case client.IsUnauthenticated(err):
			return ExitUnreachable
		case apiErr.Code == wire.CodeRegistryFull:
			return ExitFull
		default:
			return ExitInternal
		}
	}
	switch {
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrCredentials),
		errors.Is(err, context.DeadlineExceeded):
		return ExitUnreachable
	case errors.Is(err, errBadInput):
		return ExitBadInput
	case errors.Is(err, errConflict):
		return ExitConflict
	case errors.Is(err, errUnconfirmed):
		return ExitUnconfirmed
	}
	for _, p := range cobraUsagePrefixes {
		if strings.HasPrefix(err.Error(), p) {
			return ExitUsage
		}
	}
	return ExitInternal
}

// Execute runs root, prints an error once to root's error stream and
// returns the exit code: the whole of a main that wants nothing else.
func Execute(ctx context.Context, root *cobra.Command) int {
	root.SilenceErrors = true
	root.SilenceUsage = true
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(root.ErrOrStderr(), "error:", err)
	}
	return ExitCode(err)
}
