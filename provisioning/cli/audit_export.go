package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// auditExportPage is how many events one request of an export fetches.
var auditExportPage = 5000

// auditExportCommand is `fleetgate audit export`: the whole audit log (or
// the part after a sequence number) as JSON lines or CSV, fetched page by
// page so that no single answer is unbounded.
func auditExportCommand(o *options) *cobra.Command {
	var format, out string
	var after uint64
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the audit log as JSON lines or CSV",
		Long: `Export the registry's audit log, oldest first, as JSON lines (one event per
line) or CSV with a header (seq,time,actor,remote,action,target,detail). Use
--after with the last exported sequence number to append only what is new.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = o.wrapRun(func(cmd *cobra.Command, _ []string) error {
		if format != "jsonl" && format != "csv" {
			return usagef("--format %q: want jsonl or csv", format)
		}
		w := cmd.OutOrStdout()
		if out != "" {
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("%w: --out: %v (the export never overwrites a file)", errBadInput, err)
			}
			defer f.Close()
			w = f
		}
		enc := newAuditEncoder(w, format)
		n := 0
		err := o.call(cmd, func(ctx context.Context, c *client.Client) error {
			next := after
			for {
				page, err := c.Audit(ctx, client.AuditQuery{Limit: auditExportPage, After: &next})
				if err != nil {
					return err
				}
				for _, e := range page {
					if err := enc.write(e); err != nil {
						return err
					}
					next = e.Seq
				}
				n += len(page)
				if len(page) < auditExportPage {
					return enc.flush()
				}
			}
		})
		if err != nil {
			return err
		}
		if out != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d audit event(s) to %s\n", n, out)
		}
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&format, "format", "jsonl", "jsonl or csv")
	f.StringVar(&out, "out", "", "write to this new file (mode 0600) instead of stdout")
	f.Uint64Var(&after, "after", 0, "only events with a sequence number above this one")
	return cmd
}

// auditEncoder writes audit events in one export format.
type auditEncoder struct {
	json *json.Encoder
	csv  *csv.Writer
}

func newAuditEncoder(w io.Writer, format string) *auditEncoder {
	if format == "csv" {
		c := csv.NewWriter(w)
		_ = c.Write([]string{"seq", "time", "actor", "remote", "action", "target", "detail"})
		return &auditEncoder{csv: c}
	}
	return &auditEncoder{json: json.NewEncoder(w)}
}

func (e *auditEncoder) write(ev wire.AuditEvent) error {
	if e.json != nil {
		return e.json.Encode(ev)
	}
	return e.csv.Write([]string{strconv.FormatUint(ev.Seq, 10), ev.Time.Format(time.RFC3339Nano), ev.Actor, ev.Remote, ev.Action, ev.Target, ev.Detail})
}

func (e *auditEncoder) flush() error {
	if e.csv != nil {
		e.csv.Flush()
		return e.csv.Error()
	}
	return nil
}
