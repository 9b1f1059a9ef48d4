package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// groupACLCommand is `fleetgate group acl NAME`.
func groupACLCommand(o *options) *cobra.Command {
	var req wire.ACLRequest
	cmd := o.leaf("acl NAME", "Replace the ACL templates of a group (applies to connected devices at once)", []string{"NAME"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			g, err := c.SetGroupACL(ctx, args[0], req)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), g)
			}
			return printACL(cmd, "group "+g.Name, g.Publish, g.Subscribe)
		})
	})
	aclFlags(cmd, &req, "template (topic filter with {id}, {group}, {meta.KEY})")
	return cmd
}

// deviceGrantsCommand is `fleetgate device grants ID`.
func deviceGrantsCommand(o *options) *cobra.Command {
	var req wire.ACLRequest
	cmd := o.leaf("grants ID", "Replace a device's own ACL grants (applies to its sessions at once)", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			d, err := c.SetDeviceGrants(ctx, args[0], req)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), d)
			}
			return printACL(cmd, "device "+d.ID, d.Publish, d.Subscribe)
		})
	})
	aclFlags(cmd, &req, "MQTT topic filter")
	return cmd
}

// deviceProfileCommand is `fleetgate device profile ID`.
func deviceProfileCommand(o *options) *cobra.Command {
	var req wire.ProfileRequest
	var meta []string
	cmd := o.leaf("profile ID", "Replace a device's group and metadata (applies to its sessions at once)", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		m, err := parseKV("meta", meta)
		if err != nil {
			return err
		}
		req.Metadata = m
		return o.showDevice(cmd, func(ctx context.Context, c *client.Client) (wire.Device, error) {
			return c.SetDeviceProfile(ctx, args[0], req)
		})
	})
	f := cmd.Flags()
	f.StringVar(&req.Group, "group", "", "the device's group (not given: none)")
	f.StringArrayVar(&meta, "meta", nil, "metadata key=value (repeatable; the whole map is replaced)")
	return cmd
}

// aclFlags adds the repeatable --publish and --subscribe flags. Both lists
// are replaced whole: a flag not given empties its list.
func aclFlags(cmd *cobra.Command, req *wire.ACLRequest, what string) {
	f := cmd.Flags()
	f.StringArrayVar(&req.Publish, "publish", nil, what+" to publish to (repeatable; the whole list is replaced)")
	f.StringArrayVar(&req.Subscribe, "subscribe", nil, what+" to subscribe within (repeatable; the whole list is replaced)")
}

func printACL(cmd *cobra.Command, who string, publish, subscribe []string) error {
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: publish=[%s] subscribe=[%s]\n", who, strings.Join(publish, " "), strings.Join(subscribe, " "))
	return err
}

// groupLimitsCommand is `fleetgate group limits NAME`.
func groupLimitsCommand(o *options) *cobra.Command {
	var l wire.Limits
	cmd := o.leaf("limits NAME", "Replace the per-device limits of a group (flags not given keep the broker's defaults)", []string{"NAME"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			g, err := c.SetGroupLimits(ctx, args[0], l)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), g)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "group %s: limits %+v\n", g.Name, g.Limits)
			return err
		})
	})
	f := cmd.Flags()
	f.Float64Var(&l.PublishRate, "publish-rate", 0, "PUBLISH packets per second per device")
	f.IntVar(&l.PublishBurst, "publish-burst", 0, "burst of the publish rate (0: twice the rate)")
	f.Float64Var(&l.ByteRate, "byte-rate", 0, "payload bytes per second per device")
	f.IntVar(&l.MaxSubscriptions, "max-subscriptions", 0, "subscriptions per session")
	f.StringVar(&l.RateAction, "rate-action", "", "over the publish or byte rate: throttle or disconnect")
	f.IntVar(&l.MaxInflight, "max-inflight", 0, "unacknowledged QoS 1/2 messages per session each way (from the next CONNECT)")
	f.IntVar(&l.ConnectsPerMinute, "connects-per-minute", 0, "CONNECTs per device per minute")
	return cmd
}

// showDevice runs call and prints the device it answers with (JSON with
// --json).
func (o *options) showDevice(cmd *cobra.Command, call func(context.Context, *client.Client) (wire.Device, error)) error {
	return o.call(cmd, func(ctx context.Context, c *client.Client) error {
		d, err := call(ctx, c)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), d)
		}
		return printDevice(cmd.OutOrStdout(), d)
	})
}
