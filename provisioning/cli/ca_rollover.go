package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// rootRolloverCommand is `fleetgate ca root-rollover begin|finish`.
func rootRolloverCommand(caDir func() string, dataDir *string, keys *hsm.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "root-rollover",
		Short: "Replace the root: begin (new root next to the old, cross-signed), then finish (retire the old root)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "begin",
		Short: "Introduce a new root next to the current one; new certificates come from under it",
		Long: `Make a new root, keep the current one trusted as root-previous.crt, write
cross-certificates between the two, rotate the device intermediate onto the
new root (the old one stays trusted), reissue the server certificate under
the new root (served with the cross-certificate, so clients holding either
root verify it), and sign a trust bundle listing both roots. Devices fetch
that bundle at their next rotation or scheduled check and trust the new root
from then on. root.key must be in the CA directory, or the root key in the
token the --hsm-* flags name: the new root's key is then generated in the
same token. A begin stopped half way is completed by running it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r ca.RootRollover
			err := withCAKeys(keys, func(ks ca.KeyStore) (err error) {
				r, err = ca.BeginRootRollover(caDir(), time.Now(), ks)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printRollover(out, "began the root rollover in "+caDir(), r)
			fmt.Fprintf(out, `
Next:
  1. Reload the running server: kill -HUP <pid>, or wait for it to notice.
     Devices keep connecting under either root.
  2. Devices learn the new root from the trust bundle (at their next
     certificate rotation, or within trust_refresh) and move onto
     certificates under it as they rotate.
  3. Once every active device holds a certificate under the new root
     (finish checks with the operator API and refuses otherwise):
       fleetgate ca root-rollover finish --data %s --server <operator API URL>
`, *dataDir)
			return nil
		},
	})
	check := &finishCheck{}
	finish := &cobra.Command{
		Use:   "finish",
		Short: "Retire the previous root: stop trusting intermediates under it, drop the cross-certificates",
		Long: `Stop trusting device intermediates signed by the previous root, sign a
trust bundle listing the new root alone, and remove the previous root and the
cross-certificates. After the server reloads, a device still holding a
certificate under the previous root is refused at the TLS handshake, and a
device that never learned the new root cannot verify the server.

Before changing anything it asks the operator API (the --server, --cert,
--key and --cacert flags of the operator commands, or FLEETGATE_*) how many
active certificates remain under the previous root's intermediates, and
refuses while any do (exit 4), naming a few of their devices: rotate them
onto the new root, or revoke them. Without --server it refuses (exit 2).
--force skips the check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := check.run(cmd, caDir()); err != nil {
				return err
			}
			var r ca.RootRollover
			err := withCAKeys(keys, func(ks ca.KeyStore) (err error) {
				r, err = ca.FinishRootRollover(caDir(), time.Now(), ks)
				return err
			})
			if err != nil {
				return err
			}
			printRollover(cmd.OutOrStdout(), "finished the root rollover in "+caDir(), r)
			if r.UnusedKeyLabel != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "The previous root's key %q stays in token %q, unused: delete it with the token's tool.\n", r.UnusedKeyLabel, keys.Token)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Reload the running server (kill -HUP <pid>, or wait for it to notice).")
			return nil
		},
	}
	check.addFlags(finish)
	cmd.AddCommand(finish)
	return cmd
}

// printRollover says what a rollover command did.
func printRollover(out io.Writer, title string, r ca.RootRollover) {
	fmt.Fprintln(out, title)
	fmt.Fprintf(out, "  root: serial %s  %s\n", ca.SerialHex(r.Root), describe(r.Root))
	fmt.Fprintf(out, "  previous root: serial %s  %s\n", ca.SerialHex(r.Previous), describe(r.Previous))
	fmt.Fprintf(out, "  issuing intermediate: serial %s  %s\n", ca.SerialHex(r.DeviceCA), describe(r.DeviceCA))
	for _, s := range r.Done {
		fmt.Fprintf(out, "  done: %s\n", s)
	}
}
