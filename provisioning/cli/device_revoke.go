package cli

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// deviceRevokeCommand is `fleetgate device revoke`: one device by ID, or
// many at once with --group or --file.
func deviceRevokeCommand(o *options) *cobra.Command {
	var reason, group, file string
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
		return o.revokeBulk(cmd, req, "devices")
	})
	cmd.Long = `Retire devices for good, with their certificates: one by ID, every device
of a group (--group), or every device listed in a file (--file: one ID per
line, blank lines and # comments allowed). A bulk revocation is all or
nothing: an unknown group or device ID, or a malformed line (named by its
number), revokes nothing. Running it again revokes nothing new. The broker
drops the live sessions of all of them at once.
` + exitCodesHelp
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why (kept in the audit log); required")
	f.StringVar(&group, "group", "", "revoke every device of this group")
	f.StringVar(&file, "file", "", "revoke every device listed in this file")
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
func (o *options) revokeBulk(cmd *cobra.Command, req wire.BulkRevokeRequest, unit string) error {
	return o.call(cmd, func(ctx context.Context, c *client.Client) error {
		res, err := c.RevokeBulk(ctx, req)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), res)
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %d %s selected, %d revoked now, %d already revoked; %d certificates revoked\n",
			res.Selector, res.Selected, unit, res.Revoked, res.AlreadyRevoked, res.Certificates)
		return err
	})
}
