package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// finishCheck is the registry check of `fleetgate ca root-rollover
// finish`: before the previous root's intermediates stop being trusted,
// no active certificate may remain under them, or its device is refused
// from then on.
type finishCheck struct {
	conn  options
	force bool
}

// addFlags declares the connection flags (those of the operator
// commands) and --force on the finish command.
func (f *finishCheck) addFlags(cmd *cobra.Command) {
	f.conn.addConnFlags(cmd.Flags())
	cmd.Flags().BoolVar(&f.force, "force", false, "retire the previous root without asking the registry: devices still under it are refused afterwards")
}

// run checks the CA directory dir against the registry. It refuses
// (errConflict) while active certificates remain under the previous
// root's intermediates, and (usage) without the server to ask unless
// --force skips the check. Without a rollover in progress there is
// nothing to check: FinishRootRollover then says so.
func (f *finishCheck) run(cmd *cobra.Command, dir string) error {
	out := cmd.OutOrStdout()
	if f.force {
		fmt.Fprintln(out, "--force: not checking the registry for active certificates under the previous root")
		return nil
	}
	c, err := ca.LoadPublic(dir)
	if err != nil {
		return fmt.Errorf("%w (is --data right?)", err)
	}
	retiring := c.UnderPreviousRoot()
	if len(retiring) == 0 {
		return nil
	}
	issuers := make([]string, len(retiring))
	for i, r := range retiring {
		issuers[i] = ca.IssuerID(r)
	}
	if !cmd.Flags().Changed("server") && os.Getenv("FLEETGATE_SERVER") == "" {
		return usagef("finish first asks the operator API how many active certificates remain under the previous root's intermediates (%s): "+
			"give it with --server (and --cert, --key, --cacert unless the defaults fit) or FLEETGATE_SERVER, or pass --force to retire them unchecked",
			strings.Join(issuers, ", "))
	}
	return f.conn.call(cmd, func(ctx context.Context, api *client.Client) error {
		n, err := api.CountCertificates(ctx, wire.CertActive, issuers)
		if err != nil {
			return fmt.Errorf("count the active certificates under the previous root (or pass --force to skip the check): %w", err)
		}
		if n.Count > 0 {
			return refuseFinish(n, issuers)
		}
		printChecked(out, issuers)
		return nil
	})
}

// refuseFinish says how many devices finish would strand, and what to do.
func refuseFinish(n wire.CertificateCount, issuers []string) error {
	devices := strings.Join(n.Devices, ", ")
	if n.Count > len(n.Devices) {
		devices += ", ..."
	}
	return fmt.Errorf("%w: %d active certificate(s) are still under the previous root's intermediates (%s), held by devices %s; "+
		"they would be refused after finish: rotate those devices onto the new root (or revoke the certificates) and run finish again, "+
		"or pass --force to retire the previous root anyway", errConflict, n.Count, strings.Join(issuers, ", "), devices)
}

func printChecked(out io.Writer, issuers []string) {
	fmt.Fprintf(out, "checked: no active certificate under the previous root's intermediates (%s)\n", strings.Join(issuers, ", "))
}
