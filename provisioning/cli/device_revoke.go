package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// deviceRevokeCommand is `fleetgate device revoke`: one device by ID, or
// many at once with --group or --file.
func deviceRevokeCommand(o *options) *cobra.Command {
	var reason, group, file string
	var wait *time.Duration
	cmd := o.leafOrBulk("revoke [ID]", "Retire a device for good, with its certificates", "ID", func(cmd *cobra.Command, args []string) error {
		if selectors(args, group, file) != 1 {
			return usagef("give one device ID, or --group, or --file")
		}
		if err := requireFlag("reason", reason); err != nil {
			return err
		}
		if len(args) == 1 {
			return o.setStatus(cmd, func(c *client.Client) statusCall { return c.Revoke }, args[0], reason)
		}
		req := wire.BulkRevokeRequest{Group: group, Reason: reason}
		if file != "" {
			ids, err := readIDFile(file)
			if err != nil {
				return err
			}
			req.Devices = ids
		}
		return o.revokeBulk(cmd, req, *wait, "devices")
	})
	cmd.Long = `Retire devices for good, with their certificates: one by ID, every device
of a group (--group), or every device listed in a file (--file: one ID per
line, blank lines and # comments allowed). A bulk revocation is all or
nothing: an unknown group or device ID, or a malformed line (named by its
number), revokes nothing. Running it again revokes nothing new. The broker
drops the live sessions of all of them at once; a bulk revocation returns
once every broker has confirmed that it did ("in force on N of N brokers"),
or when --wait ends, with exit code 8 naming the brokers that had not.
` + exitCodesHelp
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why (kept in the audit log); required")
	f.StringVar(&group, "group", "", "revoke every device of this group")
	f.StringVar(&file, "file", "", "revoke every device listed in this file")
	wait = waitFlag(cmd)
	return cmd
}

// selectors counts what a revoke command was given to select by: its
// positional argument and the non-empty selection flags.
func selectors(args []string, flags ...string) int {
	n := len(args)
	for _, v := range flags {
		if v != "" {
			n++
		}
	}
	return n
}

// revokeBulk sends a bulk revocation and prints its counts; unit names
// what Selected counts.
func (o *options) revokeBulk(cmd *cobra.Command, req wire.BulkRevokeRequest, wait time.Duration, unit string) error {
	if wait < 0 || wait.Milliseconds() > wire.MaxEnforceWaitMS {
		return usagef("--wait must be between 0 and %s", time.Duration(wire.MaxEnforceWaitMS)*time.Millisecond)
	}
	ms := wait.Milliseconds()
	req.WaitMS = &ms
	return o.call(cmd, func(ctx context.Context, c *client.Client) error {
		res, err := c.RevokeBulk(ctx, req)
		if err != nil {
			return err
		}
		if o.json {
			if err := printJSON(cmd.OutOrStdout(), res); err != nil {
				return err
			}
			return unconfirmed(res.Enforcement)
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %d %s selected, %d revoked now, %d already revoked; %d certificates revoked\n",
			res.Selector, res.Selected, unit, res.Revoked, res.AlreadyRevoked, res.Certificates)
		if err != nil {
			return err
		}
		if e := res.Enforcement; e != nil && len(e.Missing) == 0 && e.Error == "" {
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "in force on %d of %d brokers (waited %.1f s)\n", e.Confirmed, e.Brokers, e.WaitedMS/1000)
			return err
		}
		return unconfirmed(res.Enforcement)
	})
}

// waitFlag adds --wait to a bulk revocation command.
func waitFlag(cmd *cobra.Command) *time.Duration {
	return cmd.Flags().Duration("wait", wire.DefaultEnforceWaitMS*time.Millisecond,
		"wait this long for every broker to confirm it dropped the sessions (0: do not wait); exit code 8 if one did not")
}

// unconfirmed is the error of a revocation whose enforcement not every
// broker confirmed, or that the server could not learn; nil when all
// confirmed, or when it did not wait (--wait 0, or an older server).
func unconfirmed(e *wire.Enforcement) error {
	if e != nil && e.Error != "" {
		return fmt.Errorf("%w: the revocation is recorded, but whether the brokers dropped its sessions is unknown: %s", errUnconfirmed, e.Error)
	}
	if e == nil || len(e.Missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the revocation is recorded, but %d of %d brokers did not confirm within %.1f s that they dropped its sessions: %s",
		errUnconfirmed, len(e.Missing), e.Brokers, e.WaitedMS/1000, strings.Join(e.Missing, ", "))
}
