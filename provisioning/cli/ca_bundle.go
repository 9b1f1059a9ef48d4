package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// brokerBundleCommand is `fleetgate ca broker-bundle`: what a broker host
// needs, and no CA key, written on the CA host for copying to it.
func brokerBundleCommand(caDir func() string, keys *hsm.Config) *cobra.Command {
	var out string
	var names []string
	cmd := &cobra.Command{
		Use:   "broker-bundle --out DIR --name HOST [--name HOST|IP ...]",
		Short: "Write a broker host's bundle: its server certificate and key and the device trust, no CA key",
		Long: `Write to --out what a broker host needs to serve devices, and nothing more:

  root.crt        the root: devices verify the broker with it
  device-cas.crt  every device intermediate trusted now (issuing first),
                  each signed by root.crt: the broker verifies devices with them
  server.crt      a server certificate for the --name values, signed by the root
  server.key      its key (mode 0600)

Run it on the CA host (it needs root.key in <data>/ca, or the root key in
the token the --hsm-* flags name), copy the directory
to the broker host and start the broker there with
  fleetgate serve --role broker --bundle DIR ...

Run it again with the same --out after rotating or retiring an intermediate
or to renew the certificate: the files are replaced (the key is kept), and a
running broker loads them on SIGHUP or when it notices the change. Remove
the directory first to get a new key. A --out holding other files is
refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlag("out", out); err != nil {
				return err
			}
			var b ca.BrokerBundle
			err := withCAKeys(keys, func(ks ca.KeyStore) (err error) {
				b, err = ca.WriteBrokerBundle(caDir(), out, names, time.Now(), ks)
				return err
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote the broker bundle %s\n", b.Dir)
			fmt.Fprintf(w, "  server certificate: serial %s  %s  names %v %v\n", ca.SerialHex(b.Server), describe(b.Server), b.Server.DNSNames, b.Server.IPAddresses)
			if b.KeptKey {
				fmt.Fprintln(w, "  server key: kept from the bundle already there")
			}
			fmt.Fprintf(w, "  root: serial %s  %s\n", ca.SerialHex(b.Root), describe(b.Root))
			if b.Previous != nil {
				fmt.Fprintf(w, "  previous root (root rollover in progress): serial %s  %s\n", ca.SerialHex(b.Previous), describe(b.Previous))
			}
			for i, c := range b.DeviceCAs {
				role := "trusted"
				if i == 0 {
					role = "issuing"
				}
				fmt.Fprintf(w, "  device intermediate (%s): serial %s  %s\n", role, ca.SerialHex(c), describe(c))
			}
			fmt.Fprintf(w, `
No CA private key is in it. Next: copy %s to the broker host (keep server.key
mode 0600) and start the broker there:
  fleetgate serve --role broker --bundle DIR --registry etcd://...
A broker already running from it reloads on SIGHUP or when it notices the change.
`, b.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the bundle to (created mode 0700; an earlier bundle there is refreshed)")
	cmd.Flags().StringSliceVar(&names, "name", nil, "DNS name or IP address devices dial to reach the broker host (repeatable; at least one)")
	return cmd
}
