package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// deviceWhyCommand is `fleetgate device why ID`.
func deviceWhyCommand(o *options) *cobra.Command {
	return o.leaf("why ID", "Say why a device cannot connect, and what to do", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			d, err := c.Why(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, d)
			}
			if err := fields(out, "device", d.DeviceID, "status", d.Status, "why", d.Summary, "next step", d.NextStep); err != nil {
				return err
			}
			if len(d.Refusals) == 0 {
				return nil
			}
			fmt.Fprintln(out)
			if err := printRefusals(out, d.Refusals); err != nil {
				return err
			}
			if d.Dropped > 0 {
				fmt.Fprintf(out, "(%d older refusals not kept)\n", d.Dropped)
			}
			return nil
		})
	})
}

// refusalsCommand is `fleetgate refusals ...`.
func refusalsCommand(o *options) *cobra.Command {
	cmd := o.group("refusals", "List refused device connections", `
Every broker records the connections it refuses (CONNECT checks and TLS
handshakes) in the registry, bounded per device and fleet-wide. Ask about
one device with `+"`fleetgate device why ID`"+`; list the refusals of
certificates that name no registered device with `+"`refusals list --unregistered`"+`.`)
	cmd.AddCommand(refusalsListCommand(o))
	return cmd
}

func refusalsListCommand(o *options) *cobra.Command {
	var unregistered bool
	var limit int
	cmd := o.leaf("list", "List the newest refusals", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			list, err := c.Refusals(ctx, unregistered, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, list)
			}
			if err := printRefusals(out, list.Refusals); err != nil {
				return err
			}
			fmt.Fprintf(out, "(%d devices and certificates in the log; %d refusals not kept)\n", list.Subjects, list.Dropped)
			return nil
		})
	})
	cmd.Flags().BoolVar(&unregistered, "unregistered", false, "only certificates that name no registered device (by fingerprint and subject)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many, newest first (default: the server's, 100)")
	return cmd
}

// printRefusals writes refusals as a table.
func printRefusals(w io.Writer, rs []wire.Refusal) error {
	t := newTable(w, "LAST", "COUNT", "CHECK", "DEVICE", "CLIENT ID", "SERIAL", "FINGERPRINT", "SUBJECT", "REMOTE", "BROKER", "DETAIL")
	for _, r := range rs {
		fp := r.Fingerprint
		if len(fp) > 16 {
			fp = fp[:16]
		}
		t.row(stamp(r.Time), strconv.Itoa(r.Count), r.Check, r.DeviceID, r.ClaimedClientID, r.Serial, fp, r.Subject, r.Remote, r.Broker, r.Detail)
	}
	return t.flush()
}
