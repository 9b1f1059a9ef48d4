package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// deviceCommand is `fleetgate device ...`.
func deviceCommand(o *options) *cobra.Command {
	cmd := o.group("device", "Register, list and retire devices", `
Register devices before they first connect, list and inspect them, and
suspend, resume or revoke them. A suspended or revoked device is
disconnected by the broker at once. Revocation is final and also revokes
the device's certificates; device IDs are never reused.`)
	cmd.AddCommand(
		deviceRegisterCommand(o),
		deviceImportCommand(o),
		deviceListCommand(o),
		deviceShowCommand(o),
		deviceStatusCommand(o, "suspend", "Stop a device from connecting until it is resumed",
			func(c *client.Client) statusCall { return c.Suspend }),
		deviceStatusCommand(o, "resume", "Let a suspended device connect again",
			func(c *client.Client) statusCall { return c.Resume }),
		deviceRevokeCommand(o),
		deviceWhyCommand(o),
		deviceGrantsCommand(o),
		deviceProfileCommand(o),
	)
	return cmd
}

func deviceRegisterCommand(o *options) *cobra.Command {
	var req wire.RegisterRequest
	var meta []string
	cmd := o.leaf("register ID", "Register a new device", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		m, err := parseKV("meta", meta)
		if err != nil {
			return err
		}
		req.ID, req.Metadata = args[0], m
		return o.showDevice(cmd, func(ctx context.Context, c *client.Client) (wire.Device, error) {
			return c.RegisterDevice(ctx, req)
		})
	})
	f := cmd.Flags()
	f.StringVar(&req.Group, "group", "", "group the device belongs to")
	f.StringArrayVar(&meta, "meta", nil, "metadata key=value (repeatable)")
	f.StringArrayVar(&req.Publish, "publish", nil, "extra MQTT topic filter the device may publish to (repeatable)")
	f.StringArrayVar(&req.Subscribe, "subscribe", nil, "extra MQTT topic filter the device may subscribe within (repeatable)")
	return cmd
}

func deviceListCommand(o *options) *cobra.Command {
	var status, group string
	cmd := o.leaf("list", "List devices", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			devices, err := c.Devices(ctx, client.DeviceFilter{Status: wire.DeviceStatus(status), Group: group})
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.DeviceList{Devices: devices})
			}
			t := newTable(cmd.OutOrStdout(), "ID", "STATUS", "GROUP", "CREATED", "REASON")
			for _, d := range devices {
				t.row(d.ID, string(d.Status), d.Group, stamp(d.CreatedAt), d.Reason)
			}
			return t.flush()
		})
	})
	cmd.Flags().StringVar(&status, "status", "", "only devices in this state: active, suspended or revoked")
	cmd.Flags().StringVar(&group, "group", "", "only devices of this group")
	return cmd
}

func deviceShowCommand(o *options) *cobra.Command {
	return o.leaf("show ID", "Show a device and its certificates", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			detail, err := c.Device(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, detail)
			}
			if err := printDevice(out, detail.Device); err != nil {
				return err
			}
			fmt.Fprintln(out)
			return printCertificates(out, detail.Certificates)
		})
	})
}

// statusCall is one of the client's Suspend, Resume and Revoke.
type statusCall func(ctx context.Context, id, reason string) (wire.Device, error)

// deviceStatusCommand builds suspend and resume, which differ only in the
// client method.
func deviceStatusCommand(o *options, verb, short string, pick func(*client.Client) statusCall) *cobra.Command {
	var reason string
	cmd := o.leaf(verb+" ID", short, []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		return o.setStatus(cmd, pick, args[0], reason)
	})
	if verb != "resume" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	}
	return cmd
}

// setStatus runs one status call on device id and prints the outcome.
func (o *options) setStatus(cmd *cobra.Command, pick func(*client.Client) statusCall, id, reason string) error {
	return o.call(cmd, func(ctx context.Context, c *client.Client) error {
		d, err := pick(c)(ctx, id, reason)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), d)
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "device %s is now %s\n", d.ID, d.Status)
		return err
	})
}

func printDevice(w io.Writer, d wire.Device) error {
	return fields(w,
		"id", d.ID,
		"status", string(d.Status),
		"reason", d.Reason,
		"group", d.Group,
		"metadata", joinMap(d.Metadata),
		"publish", strings.Join(d.Publish, " "),
		"subscribe", strings.Join(d.Subscribe, " "),
		"created", stamp(d.CreatedAt),
		"updated", stamp(d.UpdatedAt),
	)
}
