package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// operatorCommand is `fleetgate operator`: issue operator certificates
// with a role (offline, on the CA directory, like `fleetgate ca`) and
// export one as PKCS#12 for a browser.
func operatorCommand() *cobra.Command {
	dataDir := envOr("FLEETGATE_DATA_DIR", defaultDataDir)
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Issue operator certificates with a role, and export one as PKCS#12 for the console in a browser",
		Long: `Operators authenticate with client certificates signed by the operator CA,
from the CLI and from the console at https://<api>/console alike.

The role travels in the certificate (subject OU "fleetgate-role=<role>"):
  admin      may read and change everything (certificates without a role OU,
             such as the first admin.crt, are admins)
  read-only  may read everything; every change is refused with code "forbidden"
` + exitCodesHelp,
		Args: cobra.NoArgs,
	}
	keys := hsmFlags(cmd)
	var role, outCert, outKey string
	var lifetime time.Duration
	issue := &cobra.Command{
		Use:   "issue NAME",
		Short: "Issue a certificate and key for the operator NAME (offline, needs the operator CA key in <data>/ca)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ca.ParseOperatorRole(role)
			if err != nil {
				return &usageError{err: err}
			}
			if outCert == "" {
				outCert = args[0] + ".crt"
			}
			if outKey == "" {
				outKey = args[0] + ".key"
			}
			for _, f := range []string{outCert, outKey} { // refuse before writing either
				if _, err := os.Stat(f); err == nil {
					return fmt.Errorf("%w: %s already exists; not overwriting it", errBadInput, f)
				}
			}
			var certPEM, keyPEM []byte
			err = withCAKeys(keys, func(ks ca.KeyStore) error {
				c, err := ca.LoadWithKeys(filepath.Join(dataDir, "ca"), ks)
				if err != nil {
					return fmt.Errorf("%w (is --data right?)", err)
				}
				certPEM, keyPEM, err = c.IssueOperatorRole(args[0], r, lifetime)
				return err
			})
			if err != nil {
				return err
			}
			if err := writeNew(outKey, keyPEM, 0o600); err != nil {
				return err
			}
			if err := writeNew(outCert, certPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "operator %s (%s): certificate %s, key %s\nFor a browser: fleetgate operator p12 --cert %s --key %s --out %s.p12\n",
				args[0], r, outCert, outKey, outCert, outKey, args[0])
			return nil
		},
	}
	issue.Flags().StringVar(&role, "role", string(ca.RoleAdmin), "read-only or admin")
	issue.Flags().StringVar(&outCert, "out-cert", "", "certificate file to create (default NAME.crt)")
	issue.Flags().StringVar(&outKey, "out-key", "", "key file to create, mode 0600 (default NAME.key)")
	issue.Flags().DurationVar(&lifetime, "lifetime", ca.DefaultOperatorLifetime, "certificate lifetime")
	cmd.PersistentFlags().StringVar(&dataDir, "data", dataDir, "data directory (the CA is in <data>/ca); FLEETGATE_DATA_DIR also sets it")
	cmd.AddCommand(issue, p12Command())
	return cmd
}

// p12Command is `fleetgate operator p12`.
func p12Command() *cobra.Command {
	var certFile, keyFile, out, passEnv, passFile string
	cmd := &cobra.Command{
		Use:   "p12",
		Short: "Export an operator certificate and key as a password-protected PKCS#12 file to import into a browser",
		Long: `Write the operator certificate, its key and the operator CA (from --cert,
which may hold the chain) as PKCS#12 (AES-256, PBKDF2), the format browsers
import client certificates in. The password comes from the environment
variable named by --password-env or the first line of --password-file;
import the file in the browser's certificate settings and open
https://<api address>/console.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, err := readPassword(passEnv, passFile)
			if err != nil {
				return err
			}
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return fmt.Errorf("%w: %w", errBadInput, err)
			}
			if _, err := ca.OperatorName(pair.Leaf); err != nil {
				return fmt.Errorf("%w: %s: %w", errBadInput, certFile, err)
			}
			var cas []*x509.Certificate
			for _, der := range pair.Certificate[1:] {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("%w: %s: %w", errBadInput, certFile, err)
				}
				cas = append(cas, c)
			}
			pfx, err := pkcs12.Modern.Encode(pair.PrivateKey, pair.Leaf, cas, password)
			if err != nil {
				return fmt.Errorf("encode PKCS#12: %w", err)
			}
			if err := writeNew(out, pfx, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; import it into the browser and open the console at /console\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&certFile, "cert", envOr("FLEETGATE_CERT", DefaultCert), "operator certificate, PEM")
	f.StringVar(&keyFile, "key", envOr("FLEETGATE_KEY", DefaultKey), "operator key, PEM")
	f.StringVar(&out, "out", "operator.p12", "PKCS#12 file to create (mode 0600)")
	f.StringVar(&passEnv, "password-env", "", "name of the environment variable holding the password")
	f.StringVar(&passFile, "password-file", "", "file whose first line is the password")
	return cmd
}

// readPassword reads the PKCS#12 password; a file protected only by an
// empty password would leave the operator's key readable by anyone who
// copies it, so one is required.
func readPassword(env, file string) (string, error) {
	var p string
	switch {
	case env != "" && file != "":
		return "", usagef("give --password-env or --password-file, not both")
	case env != "":
		p = os.Getenv(env)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%w: %w", errBadInput, err)
		}
		p, _, _ = strings.Cut(string(b), "\n")
		p = strings.TrimRight(p, "\r")
	default:
		return "", usagef("the PKCS#12 file needs a password: give --password-env NAME or --password-file FILE")
	}
	if p == "" {
		return "", fmt.Errorf("%w: the password is empty", errBadInput)
	}
	return p, nil
}

// writeNew creates a file that must not exist yet.
func writeNew(name string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s already exists; not overwriting it", errBadInput, name)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
