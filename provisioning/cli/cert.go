package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// certCommand is `fleetgate cert ...`.
func certCommand(o *options) *cobra.Command {
	cmd := o.group("cert", "Issue, list and revoke device certificates", `
Issue a certificate for a registered, active device from a CSR (or from a
key generated here), list and inspect certificates, and revoke one. The
certificate's identity comes from the registry, never from the CSR. A
revoked certificate's session is dropped by the broker at once.`)
	cmd.AddCommand(certIssueCommand(o), certListCommand(o), certShowCommand(o), certRevokeCommand(o))
	return cmd
}

func certIssueCommand(o *options) *cobra.Command {
	var csrFile, newKey, outFile string
	var lifetime time.Duration
	cmd := o.leaf("issue ID", "Issue a certificate for a device", []string{"ID"}, func(cmd *cobra.Command, args []string) error {
		if (csrFile == "") == (newKey == "") {
			return usagef("give exactly one of --csr FILE and --new-key KEYFILE")
		}
		if lifetime < 0 {
			return usagef("--lifetime must be positive")
		}
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			csrPEM, undo, err := loadOrMakeCSR(csrFile, newKey, args[0])
			if err != nil {
				return err
			}
			issued, err := c.IssueCertificate(ctx, args[0], csrPEM, lifetime)
			if err != nil {
				undo()
				return err
			}
			return writeIssued(cmd, o, issued, outFile, newKey)
		})
	})
	f := cmd.Flags()
	f.StringVar(&csrFile, "csr", "", "PEM certificate signing request to sign")
	f.StringVar(&newKey, "new-key", "", "generate an ECDSA P-256 key into this file (mode 0600, never overwritten) and sign a CSR for it")
	f.StringVar(&outFile, "out", "", "write the certificate chain (leaf, then device CA) here instead of printing it")
	f.DurationVar(&lifetime, "lifetime", 0, "certificate lifetime such as 720h (default: the server's)")
	return cmd
}

// loadOrMakeCSR returns the CSR to send and a function that undoes any
// local change when the server refuses it.
func loadOrMakeCSR(csrFile, newKey, deviceID string) ([]byte, func(), error) {
	if newKey != "" {
		return newKeyAndCSR(newKey, deviceID)
	}
	data, err := os.ReadFile(csrFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read CSR: %w", errBadInput, err)
	}
	return data, func() {}, nil
}

// writeIssued prints or writes the issued chain. With --out the chain goes
// to the file and a summary to stdout; without it stdout holds the PEM alone
// so that it can be redirected.
func writeIssued(cmd *cobra.Command, o *options, issued wire.Issued, outFile, keyFile string) error {
	out := cmd.OutOrStdout()
	if outFile != "" {
		if err := os.WriteFile(outFile, []byte(issued.Chain), 0o644); err != nil {
			return fmt.Errorf("certificate %s was issued but could not be written: %w; fetch it with `fleetgate cert show %s`", issued.Serial, err, issued.Serial)
		}
	}
	if o.json {
		return printJSON(out, issued)
	}
	if outFile == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "issued certificate %s, valid until %s\n", issued.Serial, stamp(issued.NotAfter))
		_, err := io.WriteString(out, issued.Chain)
		return err
	}
	kv := []string{"serial", issued.Serial, "fingerprint", issued.Fingerprint,
		"not before", stamp(issued.NotBefore), "not after", stamp(issued.NotAfter), "chain", outFile}
	if keyFile != "" {
		kv = append(kv, "key", keyFile)
	}
	return fields(out, kv...)
}

func certListCommand(o *options) *cobra.Command {
	var device string
	cmd := o.leaf("list", "List certificates", nil, func(cmd *cobra.Command, _ []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			certs, err := c.Certificates(ctx, device)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), wire.CertificateList{Certificates: certs})
			}
			return printCertificates(cmd.OutOrStdout(), certs)
		})
	})
	cmd.Flags().StringVar(&device, "device", "", "only the certificates of this device")
	return cmd
}

func certShowCommand(o *options) *cobra.Command {
	return o.leaf("show SERIAL", "Show a certificate", []string{"SERIAL"}, func(cmd *cobra.Command, args []string) error {
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			cert, err := c.Certificate(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, cert)
			}
			if err := printCertificate(out, cert.Certificate); err != nil {
				return err
			}
			_, err = io.WriteString(out, cert.PEM)
			return err
		})
	})
}

func certRevokeCommand(o *options) *cobra.Command {
	var reason, issuer, keyID string
	var wait *time.Duration
	cmd := o.leafOrBulk("revoke [SERIAL]", "Revoke one certificate, or every one a CA issued (the devices stay registered)", "SERIAL", func(cmd *cobra.Command, args []string) error {
		if selectors(args, issuer, keyID) != 1 {
			return usagef("give one certificate serial, or --issuer, or --issuer-key-id")
		}
		if err := requireFlag("reason", reason); err != nil {
			return err
		}
		if issuer != "" {
			var err error
			if keyID, err = subjectKeyID(issuer); err != nil {
				return err
			}
		}
		if keyID != "" {
			return o.revokeBulk(cmd, wire.BulkRevokeRequest{IssuerKeyID: keyID, Reason: reason}, *wait, "certificates")
		}
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			cert, err := c.RevokeCertificate(ctx, args[0], reason)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), cert)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "certificate %s of device %s is now %s\n", cert.Serial, cert.DeviceID, cert.Status)
			return err
		})
	})
	cmd.Long = `Revoke one certificate by serial, or every certificate an issuing CA
signed ("this factory batch is compromised"): --issuer names the CA
certificate file (PEM), --issuer-key-id its SubjectKeyId in hex. The
devices stay registered and may enroll again under another CA; their live
sessions on the revoked certificates are dropped at once. All or nothing,
and running it again revokes nothing new.
` + exitCodesHelp
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why (kept in the audit log); required")
	f.StringVar(&issuer, "issuer", "", "revoke every certificate signed by this CA certificate (PEM file)")
	f.StringVar(&keyID, "issuer-key-id", "", "revoke every certificate signed by the CA with this key ID (hex SubjectKeyId)")
	wait = waitFlag(cmd)
	return cmd
}

// subjectKeyID reads a PEM CA certificate and returns its SubjectKeyId in
// lower-case hex: the AuthorityKeyId of what it signed.
func subjectKeyID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadInput, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%w: %s: no PEM CERTIFICATE block", errBadInput, path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", errBadInput, path, err)
	}
	if !cert.IsCA || len(cert.SubjectKeyId) == 0 {
		return "", fmt.Errorf("%w: %s: not a CA certificate with a subject key ID", errBadInput, path)
	}
	return hex.EncodeToString(cert.SubjectKeyId), nil
}

func printCertificates(w io.Writer, certs []wire.Certificate) error {
	t := newTable(w, "SERIAL", "DEVICE", "STATUS", "ATTESTATION", "NOT AFTER", "ISSUER", "REASON")
	for _, c := range certs {
		t.row(c.Serial, c.DeviceID, string(c.Status), string(c.Attestation), stamp(c.NotAfter), c.IssuerKeyID, c.Reason)
	}
	return t.flush()
}

func printCertificate(w io.Writer, c wire.Certificate) error {
	return fields(w,
		"serial", c.Serial,
		"fingerprint", c.Fingerprint,
		"device", c.DeviceID,
		"status", string(c.Status),
		"attestation", string(c.Attestation),
		"issued", stamp(c.IssuedAt),
		"not before", stamp(c.NotBefore),
		"not after", stamp(c.NotAfter),
		"issuer", c.IssuerKeyID,
		"revoked", stamp(c.RevokedAt),
		"reason", c.Reason,
	)
}
