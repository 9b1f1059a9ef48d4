package cli

import (
	"context"
	"os"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Defaults of the connection flags: where a server started with `make run`
// listens and writes its first operator's credentials.
const (
	DefaultServer  = "https://127.0.0.1:8443"
	DefaultCert    = "data/ca/admin.crt"
	DefaultKey     = "data/ca/admin.key"
	DefaultCACert  = "data/ca/root.crt"
	DefaultTimeout = 30 * time.Second
)

// options are the connection and output settings shared by every command.
type options struct {
	server  string
	cert    string
	key     string
	cacert  string
	json    bool
	timeout time.Duration
}

// addFlags declares the shared flags as persistent flags of a command
// group, with defaults taken from the environment when set.
func (o *options) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	o.addConnFlags(f)
	f.BoolVar(&o.json, "json", false, "print the API's JSON instead of a table")
}

// addConnFlags declares the flags that reach the server: --server, the
// operator credentials and --timeout.
func (o *options) addConnFlags(f *pflag.FlagSet) {
	f.StringVar(&o.server, "server", envOr("FLEETGATE_SERVER", DefaultServer), "operator API base URL (env FLEETGATE_SERVER)")
	f.StringVar(&o.cert, "cert", envOr("FLEETGATE_CERT", DefaultCert), "operator client certificate, PEM (env FLEETGATE_CERT)")
	f.StringVar(&o.key, "key", envOr("FLEETGATE_KEY", DefaultKey), "operator private key, PEM (env FLEETGATE_KEY)")
	f.StringVar(&o.cacert, "cacert", envOr("FLEETGATE_CACERT", DefaultCACert), "root certificate that signs the server's, PEM (env FLEETGATE_CACERT)")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "give up on the server after this long")
}

// connect loads the operator credentials and returns a client and a context
// bounded by --timeout.
func (o *options) connect(ctx context.Context) (*client.Client, context.Context, context.CancelFunc, error) {
	if o.timeout <= 0 {
		return nil, nil, nil, usagef("--timeout must be positive, got %s", o.timeout)
	}
	tlsCfg, err := client.LoadTLS(o.cert, o.key, o.cacert)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	return client.New(o.server, tlsCfg), ctx, cancel, nil
}

// call runs fn with a connected client, closing the connections afterwards.
func (o *options) call(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
	c, ctx, cancel, err := o.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer cancel()
	defer c.CloseIdleConnections()
	return fn(ctx, c)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
