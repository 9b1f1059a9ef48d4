package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/spf13/cobra"
)

// importFormats maps --format values and file extensions to content types.
var importFormats = map[string]string{
	"csv":    wire.ImportCSV,
	"jsonl":  wire.ImportJSONL,
	"ndjson": wire.ImportJSONL,
}

func deviceImportCommand(o *options) *cobra.Command {
	var format string
	cmd := o.leaf("import FILE", "Pre-register devices from a CSV or JSON-lines file", []string{"FILE"}, func(cmd *cobra.Command, args []string) error {
		file := args[0]
		if format == "" {
			format = strings.TrimPrefix(strings.ToLower(filepath.Ext(file)), ".")
		}
		contentType, ok := importFormats[strings.ToLower(format)]
		if !ok {
			return usagef("cannot tell the format of %s: name it .csv, .jsonl or .ndjson, or give --format csv|jsonl", file)
		}
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadInput, err)
		}
		defer f.Close()
		return o.call(cmd, func(ctx context.Context, c *client.Client) error {
			res, err := c.ImportDevices(ctx, contentType, f)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "imported %s: %d created, %d unchanged\n", file, res.Created, res.Unchanged)
			return err
		})
	})
	cmd.Long = `Pre-register devices from the factory line. The whole file goes in or
nothing does; a refused row is reported with its line number. Importing the
same file again changes nothing.

CSV: a header line naming the columns id,group,ek_cert,ek_hash,metadata
(only id is required), then one device per line. ek_cert is the EK
certificate as base64 DER or PEM (quoted), ek_hash the hex SHA-256 of the EK
public key (SubjectPublicKeyInfo DER), metadata k=v;k=v.
JSON lines: one object per line with the same fields, metadata an object.
` + exitCodesHelp
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	return cmd
}
