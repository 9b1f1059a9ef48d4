package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// hinted is an error with advice on what to do about it. The advice rides
// in the message so that it reaches the user whoever prints the error.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() + "\n  " + h.hint }
func (h *hinted) Unwrap() error { return h.err }

// withHint adds advice matching the kind of err.
func (o *options) withHint(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var hint string
	var apiErr *client.APIError
	switch {
	case errors.As(err, new(*usageError)):
		hint = fmt.Sprintf("see `%s --help`", cmd.CommandPath())
	case errors.Is(err, client.ErrCredentials):
		hint = "check --cert, --key and --cacert (FLEETGATE_CERT, FLEETGATE_KEY, FLEETGATE_CACERT); the server writes the first operator's files to data/ca when it starts"
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		hint = fmt.Sprintf("is the server running at %s? start it with `make run`, or point --server (FLEETGATE_SERVER) at it; if it is running, check that --cacert is its root and --cert an operator certificate it trusts", o.server)
	case errors.As(err, &apiErr):
		switch apiErr.Code {
		case wire.CodeUnauthenticated:
			hint = "the server does not accept this operator certificate; check --cert and --key"
		case wire.CodeNotFound:
			hint = "list what exists with `fleetgate device list` or `fleetgate cert list`"
		case wire.CodeExists:
			hint = "device IDs are never reused, not even after revocation; pick another ID"
		case wire.CodePolicy:
			hint = "see the group's policy with `fleetgate group list`"
		case wire.CodeInvalidState:
			hint = "see the current state with `fleetgate device show ID`"
		case wire.CodeBadRequest:
			hint = "fix the input and run the command again"
		case wire.CodeForbidden:
			hint = "changes need an operator certificate with the admin role (fleetgate operator issue NAME --role admin)"
		default:
			hint = "the server log has the details"
		}
	default:
		return err
	}
	return &hinted{err: err, hint: hint}
}

// wrapRun gives a command's RunE the shared error handling.
func (o *options) wrapRun(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return o.withHint(cmd, fn(cmd, args))
	}
}
