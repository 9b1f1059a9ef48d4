package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// foreignCACommand is `fleetgate foreign-ca ...`.
func foreignCACommand(o *options) *cobra.Command {
	cmd := o.group("foreign-ca", "Register device CAs we do not run (secure element vendors, contract manufacturers)", `
A foreign device CA issues the certificates a device fleet leaves the
factory with, its keys sealed in a secure element. Registered for a group,
the broker admits its certificates: a device is registered (and audited)
on its first connect, bound to its certificate's fingerprint, and from then
on is a device like any other (client ID, ACL, suspension, revocation).
--id-from says where its ID comes from; --allow admits only the
certificates listed (fingerprints or serials, one a line), --first-connect
any certificate of the CA. Brokers pick a change up within 5 s.`)
	cmd.AddCommand(foreignCAPutCommand(o), foreignCAListCommand(o))
	return cmd
}

func foreignCAPutCommand(o *options) *cobra.Command {
	var req wire.ForeignCARequest
	var certsFile, allowFile string
	cmd := o.leaf("put NAME", "Register a foreign device CA for a group, or replace it", []string{"NAME"}, func(cmd *cobra.Command, args []string) error {
		if req.FirstConnect == (allowFile != "") {
			return usagef("give exactly one of --first-connect and --allow FILE")
		}
		pem, err := os.ReadFile(certsFile)
		if err != nil {
			return fmt.Errorf("%w: --certs: %w", errBadInput, err)
		}
		req.Certs = string(pem)
		if allowFile != "" {
			f, err := os.Open(allowFile)
			if err != nil {
				return fmt.Errorf("%w: --allow: %w", errBadInput, err)
			}
			defer f.Close()
			list, err := readIDs(f)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", errBadInput, allowFile, err)
			}
			for _, s := range list {
				// openssl prints fingerprints as AB:CD:...; the registry keeps lower-case hex.
				req.Allowed = append(req.Allowed, strings.ToLower(strings.ReplaceAll(s, ":", "")))
			}
		}
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			f, err := c.PutForeignCA(ctx, args[0], req)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), f)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "foreign CA %s: group=%s id_from=%s first_connect=%t allowed=%d certs=%s\n",
				f.Name, f.Group, f.IDFrom, f.FirstConnect, f.Allowed, strings.Join(f.Subjects, " | "))
			return err
		})
	})
	fl := cmd.Flags()
	fl.StringVar(&req.Group, "group", "", "the group its devices join (required)")
	fl.StringVar(&certsFile, "certs", "", "PEM file: the CA's root, then the intermediates allowed to issue (required)")
	fl.StringVar(&req.IDFrom, "id-from", wire.IDFromCN, "where a device's ID comes from: cn, san-dns, san-uri or fingerprint")
	fl.BoolVar(&req.FirstConnect, "first-connect", false, "admit any certificate of this CA on its first connect")
	fl.StringVar(&allowFile, "allow", "", "file of admitted certificate fingerprints (SHA-256) or serials, hex, one a line")
	_ = cmd.MarkFlagRequired("group")
	_ = cmd.MarkFlagRequired("certs")
	return cmd
}

func foreignCAListCommand(o *options) *cobra.Command {
	return o.leaf("list", "List the foreign device CAs", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			cas, err := c.ForeignCAs(ctx)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.ForeignCAList{ForeignCAs: cas})
			}
			t := newTable(cmd.OutOrStdout(), "NAME", "GROUP", "ID_FROM", "ADMITS", "ROOT", "CREATED")
			for _, f := range cas {
				admits := fmt.Sprintf("%d listed", f.Allowed)
				if f.FirstConnect {
					admits = "first connect"
				}
				root := ""
				if len(f.Subjects) > 0 {
					root = f.Subjects[0]
				}
				t.row(f.Name, f.Group, f.IDFrom, admits, root, stamp(f.CreatedAt))
			}
			return t.flush()
		})
	})
}
