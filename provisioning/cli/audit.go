package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// auditCommand is `fleetgate audit`.
func auditCommand(o *options) *cobra.Command {
	var q client.AuditQuery
	var since string
	cmd := o.group("audit", "Read the audit log", `
Print the registry's audit log, oldest first: who (operator or device) did
what to which device or certificate, from which address, and when.`)
	// The group itself is the command here: it takes no subcommands.
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return o.withHint(cmd, usagef("%s takes no arguments, got %q", cmd.CommandPath(), args))
		}
		return nil
	}
	cmd.RunE = o.wrapRun(func(cmd *cobra.Command, _ []string) error {
		if since != "" {
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				return usagef("--since %q: want an RFC 3339 time such as 2025-01-31T12:00:00Z", since)
			}
			q.Since = t
		}
		if q.Limit < 0 {
			return usagef("--limit must not be negative")
		}
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			events, err := c.Audit(ctx, q)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.AuditList{Events: events})
			}
			t := newTable(cmd.OutOrStdout(), "SEQ", "TIME", "ACTOR", "REMOTE", "ACTION", "TARGET", "DETAIL")
			for _, e := range events {
				t.row(strconv.FormatUint(e.Seq, 10), stamp(e.Time), e.Actor, e.Remote, e.Action, e.Target, e.Detail)
			}
			return t.flush()
		})
	})
	f := cmd.Flags()
	f.StringVar(&q.Target, "target", "", "only events about this device ID or certificate serial")
	f.StringVar(&q.Action, "action", "", "only events with this action, e.g. device.revoke")
	f.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	f.IntVar(&q.Limit, "limit", 0, "only the last N matching events (default: all the server returns)")
	cmd.AddCommand(auditExportCommand(o))
	return cmd
}
