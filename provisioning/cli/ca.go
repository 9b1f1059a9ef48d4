package cli

import (
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// defaultDataDir is the server's default data_dir: where `make run`
// keeps the registry and the CA.
const defaultDataDir = "data"

// caCommand is `fleetgate ca`: offline operations on the CA directory of a
// data directory. They only change files; a running server picks the
// result up at its next reload (SIGHUP, or within reload_interval). Unlike
// the other groups they need no server, so they carry no connection flags;
// they carry the --hsm-* flags of the token that holds CA keys, if any.
func caCommand() *cobra.Command {
	dataDir := envOr("FLEETGATE_DATA_DIR", defaultDataDir)
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Rotate and retire device intermediates, renew the server certificate, write broker bundles (offline, on the data directory)",
		Long: `Operations on the CA files under <data>/ca. They work on the files only;
a running server loads the result on SIGHUP or when it notices the change
(every reload_interval, 2s by default), without dropping any connection.
Do not run two of these commands on the same directory at once.

CA keys kept in a PKCS#11 token (fleetgate ca init-hsm) are reached with
--hsm-module, --hsm-token and --hsm-pin-file or --hsm-pin-env (or
FLEETGATE_HSM_*), as the server reaches them; "list" and
"retire-intermediate" need no token.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data", dataDir, "data directory (the CA is in <data>/ca); FLEETGATE_DATA_DIR also sets it")
	caDir := func() string { return filepath.Join(dataDir, "ca") }
	keys := hsmFlags(cmd)

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the issuing and trusted device intermediates and the server certificate",
		Long: `List the roots, device intermediates and the server certificate. Keys in a
token are read by their references, so no token is needed; with the --hsm-*
flags the token is opened too, which checks that it holds every key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCAKeys(keys, func(ks ca.KeyStore) error {
				load := ca.LoadPublic
				if ks != nil {
					load = func(dir string) (*ca.CA, error) { return ca.LoadWithKeys(dir, ks) }
				}
				c, err := load(caDir())
				if err != nil {
					return fmt.Errorf("%w (is --data right?)", err)
				}
				printCAList(cmd.OutOrStdout(), c, time.Now())
				return nil
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate-intermediate",
		Short: "Create a new issuing device intermediate and keep trusting the old one",
		Long: `Create a new device-issuing intermediate signed by the root (root.key in the
CA directory, or in the token), move the current one into
trusted-device-cas.crt and install the new pair. Devices with certificates
from the old intermediate keep connecting; new certificates come from the
new one after the server reloads. The old intermediate's key is kept as
device-ca-<old serial>.key: it issues nothing, and signs the old
intermediate's CRL and OCSP signer until retire-intermediate removes it.

When the intermediate's key is in a token, the new key is generated in the
same token (labelled <old label>-<new serial>) and device-ca.key refers to
it; the old key stays in the token, device-ca-<old serial>.key referring to
it, until retire-intermediate names it for deletion.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r ca.Rotation
			err := withCAKeys(keys, func(ks ca.KeyStore) (err error) {
				r, err = ca.RotateIntermediate(caDir(), time.Now(), ks)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "rotated the device intermediate in %s\n", caDir())
			fmt.Fprintf(out, "  new issuing intermediate: serial %s  %s\n", ca.SerialHex(r.New), describe(r.New))
			if r.NewKeyLabel != "" {
				fmt.Fprintf(out, "  its key: %q in token %q\n", r.NewKeyLabel, keys.Token)
			}
			fmt.Fprintf(out, "  old intermediate, now trusted only: serial %s  %s\n", ca.SerialHex(r.Old), describe(r.Old))
			if r.OldKeyLabel != "" {
				fmt.Fprintf(out, "  its key %q stays in token %q, referred to by %s, for its CRL and OCSP answers until it is retired\n",
					r.OldKeyLabel, keys.Token, ca.KeptKeyFile(r.Old))
			} else {
				fmt.Fprintf(out, "  its key is kept as %s, for its CRL and OCSP answers until it is retired\n", ca.KeptKeyFile(r.Old))
			}
			fmt.Fprintf(out, `
Next:
  1. Reload the running server: kill -HUP <pid>, or wait for it to notice the
     changed files. Connected devices stay connected.
  2. New and rotated device certificates now come from the new intermediate;
     devices move onto it as they renew their certificates.
  3. Once no active device certificate chains to the old intermediate,
     retire it (devices still holding one cannot connect afresh after that):
       fleetgate ca retire-intermediate %s --data %s
`, ca.SerialHex(r.Old), dataDir)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "retire-intermediate SERIAL",
		Short: "Stop trusting an older device intermediate for new connections",
		Long: `Remove the intermediate with this serial (hex, as "fleetgate ca list" shows
it) from trusted-device-cas.crt. After the server reloads, devices whose
certificates chain to it are refused at the TLS handshake; sessions already
up stay up until the device disconnects, is revoked or its certificate
expires (use "fleetgate device revoke" to drop one at once). Its kept key
(device-ca-<serial>.key) is removed; a key in a token is named for
deletion with the token's tool.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ca.RetireIntermediate(caDir(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "retired intermediate serial %s  %s (its kept key removed)\n", ca.SerialHex(r.Old), describe(r.Old))
			for _, label := range r.TokenKeys {
				fmt.Fprintf(out, "  token key %q is no longer used: delete it once the server has reloaded (pkcs11-tool --delete-object --type privkey --label %s)\n", label, label)
			}
			fmt.Fprintln(out, "Reload the running server (kill -HUP <pid>, or wait for it to notice).")
			return nil
		},
	})
	var names []string
	renew := &cobra.Command{
		Use:   "renew-server",
		Short: "Reissue the server certificate now (same key, same names plus any --server-name)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c *x509.Certificate
			err := withCAKeys(keys, func(ks ca.KeyStore) (err error) {
				c, err = ca.RenewServer(caDir(), names, time.Now(), ks)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "renewed the server certificate: serial %s  %s\nReload the running server (kill -HUP <pid>, or wait for it to notice).\n",
				ca.SerialHex(c), describe(c))
			return nil
		},
	}
	renew.Flags().StringSliceVar(&names, "server-name", nil, "extra DNS name or IP for the server certificate (repeatable)")
	cmd.AddCommand(renew)
	cmd.AddCommand(brokerBundleCommand(caDir, keys))
	cmd.AddCommand(caInitHSMCommand(caDir, keys))
	cmd.AddCommand(rootRolloverCommand(caDir, &dataDir, keys))
	return cmd
}

// describe is a certificate's subject and validity for people.
func describe(c *x509.Certificate) string {
	return fmt.Sprintf("%q valid %s to %s", c.Subject.CommonName,
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
}

// printCAList prints one row per intermediate and one for the server
// certificate.
func printCAList(out io.Writer, c *ca.CA, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ROLE\tSERIAL\tSUBJECT\tNOT BEFORE\tNOT AFTER\tSTATE")
	row := func(role string, cert *x509.Certificate) {
		state := "valid"
		switch {
		case now.After(cert.NotAfter):
			state = "expired"
		case now.Before(cert.NotBefore):
			state = "not yet valid"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", role, ca.SerialHex(cert), cert.Subject.CommonName,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), state)
	}
	row("root", c.Root())
	if p := c.PreviousRoot(); p != nil {
		row("previous-root", p)
	}
	row("issuing", c.DeviceCA())
	for _, t := range c.TrustedDeviceCAs() {
		row("trusted", t)
	}
	row("server", c.ServerCertificate().Leaf)
	w.Flush()
}
