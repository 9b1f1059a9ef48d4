package cli

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// groupCommand is `fleetgate group ...`.
func groupCommand(o *options) *cobra.Command {
	cmd := o.group("group", "Set and list the enrollment policy of device groups", `
A group's policy says how its devices may get certificates: --require-tpm
admits only TPM-attested certificates at the broker; --allow-tokens lets
one-time enrollment tokens with software keys enroll devices into it (the
two exclude each other). A device whose group has no policy enrolls only
with its TPM or through an operator.

A group's ACL templates (group acl) grant every device of the group topic
filters with variables: {id}, {group} and {meta.KEY}. A change applies to
connected devices at once.`)
	cmd.AddCommand(groupPutCommand(o), groupListCommand(o), groupACLCommand(o), groupLimitsCommand(o))
	return cmd
}

func groupPutCommand(o *options) *cobra.Command {
	var req wire.GroupRequest
	cmd := o.leaf("put NAME", "Create a group or replace its policy", []string{"NAME"}, func(cmd *cobra.Command, args []string) error {
		if req.RequireTPM && req.AllowTokens {
			return usagef("--require-tpm and --allow-tokens exclude each other: tokens enroll software keys")
		}
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			g, err := c.PutGroup(ctx, args[0], req)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), g)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "group %s: require_tpm=%t allow_tokens=%t\n", g.Name, g.RequireTPM, g.AllowTokens)
			return err
		})
	})
	f := cmd.Flags()
	f.BoolVar(&req.RequireTPM, "require-tpm", false, "admit only TPM-attested certificates of this group's devices")
	f.BoolVar(&req.AllowTokens, "allow-tokens", false, "let one-time tokens with software keys enroll devices into this group")
	return cmd
}

func groupListCommand(o *options) *cobra.Command {
	return o.leaf("list", "List groups and their policies", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			groups, err := c.Groups(ctx)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.GroupList{Groups: groups})
			}
			t := newTable(cmd.OutOrStdout(), "NAME", "REQUIRE_TPM", "ALLOW_TOKENS", "CREATED")
			for _, g := range groups {
				t.row(g.Name, fmt.Sprint(g.RequireTPM), fmt.Sprint(g.AllowTokens), stamp(g.CreatedAt))
			}
			return t.flush()
		})
	})
}
