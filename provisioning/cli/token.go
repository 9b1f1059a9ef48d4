package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// tokenCommand is `fleetgate token ...`.
func tokenCommand(o *options) *cobra.Command {
	cmd := o.group("token", "Create and list one-time enrollment tokens", `
One-time enrollment tokens let devices with software keys (simulators,
development boards) enroll into a group that allows tokens. Each token
enrolls one device, once, before it expires. The server keeps only their
hashes: the plaintexts are printed (or written with --out) once.`)
	cmd.AddCommand(tokenCreateCommand(o), tokenListCommand(o))
	return cmd
}

func tokenCreateCommand(o *options) *cobra.Command {
	var req wire.CreateTokensRequest
	var ttl time.Duration
	var outFile string
	cmd := o.leaf("create", "Create enrollment tokens for a group", nil, func(cmd *cobra.Command, _ []string) error {
		if err := requireFlag("group", req.Group); err != nil {
			return err
		}
		if req.Count < 1 {
			return usagef("--count must be at least 1, got %d", req.Count)
		}
		if ttl <= 0 {
			return usagef("--ttl must be positive, got %s", ttl)
		}
		req.TTL = ttl.String()
		// The file is created before the server is asked, so an existing
		// one is refused before any token exists; it is removed again if
		// no token was made.
		var f *os.File
		if outFile != "" {
			var err error
			f, err = os.OpenFile(outFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s already exists; refusing to overwrite tokens", errBadInput, outFile)
			}
			if err != nil {
				return fmt.Errorf("%w: create token file: %w", errBadInput, err)
			}
			defer f.Close()
		}
		made := false
		err := o.call(cmd, func(ctx context.Context, c *client.Client) error {
			created, err := c.CreateTokens(ctx, req)
			if err != nil {
				return err
			}
			made = true
			return writeTokens(cmd, o, created, f)
		})
		if f != nil && !made {
			f.Close()
			os.Remove(outFile)
		}
		return err
	})
	f := cmd.Flags()
	f.StringVar(&req.Group, "group", "", "group the tokens enroll devices into; required")
	f.IntVar(&req.Count, "count", 1, "how many tokens to create")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the tokens stay valid")
	f.StringVar(&outFile, "out", "", "write the tokens here, one per line (mode 0600, never overwritten), instead of printing them")
	return cmd
}

// writeTokens writes the plaintexts one per line to f, or to stdout when
// f is nil, with a summary on stderr so that stdout can be redirected.
func writeTokens(cmd *cobra.Command, o *options, created wire.CreatedTokens, f *os.File) error {
	lines := strings.Join(created.Tokens, "\n") + "\n"
	if f != nil {
		if _, err := f.WriteString(lines); err != nil {
			return fmt.Errorf("%d tokens were created but could not be written: %w; create new ones", len(created.Tokens), err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%d tokens were created but could not be written: %w; create new ones", len(created.Tokens), err)
		}
	}
	if o.json {
		return printJSON(cmd.OutOrStdout(), created)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "created %d token(s) for group %s, valid until %s\n", len(created.Tokens), created.Group, stamp(created.ExpiresAt))
	if f != nil {
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "wrote %d token(s) to %s\n", len(created.Tokens), f.Name())
		return err
	}
	_, err := fmt.Fprint(cmd.OutOrStdout(), lines)
	return err
}

func tokenListCommand(o *options) *cobra.Command {
	var group string
	cmd := o.leaf("list", "List enrollment tokens (hashes, expiry and use)", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			tokens, err := c.Tokens(ctx, group)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.TokenList{Tokens: tokens})
			}
			t := newTable(cmd.OutOrStdout(), "HASH", "GROUP", "CREATED", "EXPIRES", "USED", "DEVICE")
			for _, tk := range tokens {
				t.row(tk.Hash[:16], tk.Group, stamp(tk.CreatedAt), stamp(tk.ExpiresAt), stamp(tk.UsedAt), tk.UsedBy)
			}
			return t.flush()
		})
	})
	cmd.Flags().StringVar(&group, "group", "", "only the tokens of this group")
	return cmd
}
