package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
)

// TargetMain is the `firmware-sim bench-target` process: args are
// "KIND --cert FILE --key FILE --client-ca FILE [--listen ADDR]". It
// serves the reference server KIND with the broker's TLS policy until ctx
// ends, writing its address to out.
func TargetMain(ctx context.Context, args []string, out io.Writer) error {
	if len(args) < 1 {
		return fmt.Errorf("%w: bench-target needs a kind (%s or %s)", ErrConfig, KindBare, KindMochi)
	}
	kind := args[0]
	fs := flag.NewFlagSet("bench-target", flag.ContinueOnError)
	certFile := fs.String("cert", "", "server certificate")
	keyFile := fs.String("key", "", "server key")
	clientCA := fs.String("client-ca", "", "CA that client certificates must chain to")
	addr := fs.String("listen", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(*clientCA)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return fmt.Errorf("%w: %s holds no PEM certificate", ErrConfig, *clientCA)
	}
	// The broker's policy (broker.Config.tlsConfig): a client certificate
	// is required and verified against the device CA.
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	return ServeTarget(ctx, kind, *addr, cfg, out)
}
