package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// hsmKeyFiles maps the names --keys accepts to the key files they stand
// for, in the order the CAs are created.
var hsmKeyFiles = []struct{ name, file string }{
	{"root", ca.RootKeyFile},
	{"device", ca.DeviceCAKeyFile},
	{"operator", ca.OperatorCAKeyFile},
}

// hsmFlags adds the token flags (defaults from FLEETGATE_HSM_*, as the
// server reads them) to cmd, persistent, and returns the configuration
// they fill: the `fleetgate ca` group holds them for all its commands.
func hsmFlags(cmd *cobra.Command) *hsm.Config {
	cfg := &hsm.Config{}
	f := cmd.PersistentFlags()
	f.StringVar(&cfg.Module, "hsm-module", envOr("FLEETGATE_HSM_MODULE", ""), "PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so")
	f.StringVar(&cfg.Token, "hsm-token", envOr("FLEETGATE_HSM_TOKEN", ""), "label of the PKCS#11 token")
	f.StringVar(&cfg.PINFile, "hsm-pin-file", envOr("FLEETGATE_HSM_PIN_FILE", ""), "file holding the token's user PIN")
	f.StringVar(&cfg.PINEnv, "hsm-pin-env", envOr("FLEETGATE_HSM_PIN_ENV", ""), "name of an environment variable holding the token's user PIN")
	return cfg
}

// withCAKeys runs run with the token the --hsm-* flags name, open, as the
// store of the CA keys kept there, and closes it after; without any
// --hsm-* setting run gets nil and every CA key must be a file.
func withCAKeys(cfg *hsm.Config, run func(keys ca.KeyStore) error) error {
	if !cfg.Enabled() {
		return run(nil)
	}
	tok, err := hsm.Open(*cfg)
	if err != nil {
		return fmt.Errorf("open the token of the CA keys (--hsm-*): %w", err)
	}
	defer tok.Close()
	return run(tok)
}

// caInitHSMCommand is `fleetgate ca init-hsm`.
func caInitHSMCommand(caDir func() string, cfg *hsm.Config) *cobra.Command {
	var (
		keys, names []string
		prefix      string
	)
	cmd := &cobra.Command{
		Use:   "init-hsm",
		Short: "Create a new CA whose root, device and/or operator CA keys are generated inside a PKCS#11 token",
		Long: `Generate the chosen CA keys (ECDSA P-256, sensitive, not extractable) inside
a PKCS#11 token, labelled <prefix>-root, <prefix>-device-ca and
<prefix>-operator-ca, and write the new CA directory <data>/ca: the
certificates, a reference (token and label, no key) in root.key,
device-ca.key and operator-ca.key for each key in the token, PEM files for
the others, the server certificate and the first admin credentials.
<data>/ca must not exist or be empty. Nothing is half-written: the files
go to a temporary directory renamed at the end, and on a failure the keys
generated are deleted from the token again.

Start the server with the same --hsm-module, --hsm-token and --hsm-pin-file
(or hsm_* in the configuration file, FLEETGATE_HSM_*).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			labels := map[string]string{}
			for _, k := range keys {
				i := slices.IndexFunc(hsmKeyFiles, func(e struct{ name, file string }) bool { return e.name == k })
				if i < 0 {
					return &usageError{err: fmt.Errorf("--keys %q: choose among root, device and operator", k)}
				}
				labels[hsmKeyFiles[i].file] = prefix + "-" + strings.TrimSuffix(hsmKeyFiles[i].file, ".key")
			}
			tok, err := hsm.Open(*cfg)
			if err != nil {
				return err
			}
			defer tok.Close()
			created, err := ca.CreateInToken(caDir(), ca.TokenCAOptions{Token: tok, Labels: labels, ServerNames: names})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created a CA in %s with keys in PKCS#11 token %q:\n", caDir(), tok.Label())
			for _, e := range hsmKeyFiles {
				if label, ok := labels[e.file]; ok {
					fmt.Fprintf(out, "  %-16s key %q in the token\n", e.file, label)
				}
			}
			fmt.Fprintf(out, "files: %s\n", strings.Join(created, " "))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&keys, "keys", []string{"root", "device", "operator"}, "which CA keys go into the token: root, device, operator")
	cmd.Flags().StringVar(&prefix, "label-prefix", "fleetgate", "prefix of the key labels in the token")
	cmd.Flags().StringSliceVar(&names, "server-name", nil, "extra DNS name or IP for the server certificate (repeatable)")
	return cmd
}
