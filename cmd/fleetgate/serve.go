package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/server"
)

func serveCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker and the provisioning API over one registry (the embedded default)",
		Long: `Run the mTLS MQTT broker and the operator/provisioning HTTPS API in one
process over one bbolt registry file in the data directory. On first start the
CA (root, device-issuing intermediate, server and first operator certificates)
is created under <data_dir>/ca. A broker host (--role broker) may instead start
from a bundle holding no CA key (--bundle DIR, written on the CA host with
fleetgate ca broker-bundle); it never creates a CA.

Configuration precedence, lowest first: defaults, --config JSON file,
FLEETGATE_* environment variables, flags.

Hot reload: on SIGHUP, and when the CA files or the --config file change
(checked every reload_interval), the CA directory is loaded again and the
reloadable settings (log_level, handshake_timeout, max_pending,
cert_lifetime, reload_interval) are applied, without closing any
connection. A reload that fails keeps the previous material and logs why.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := configSource{file: configFile, cmd: cmd, flags: cfg}
			return serve(cmd.Context(), src, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "JSON configuration file")
	f.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory (registry.db and ca/)")
	f.StringVar(&cfg.MQTTAddr, "mqtt-addr", cfg.MQTTAddr, "MQTT over mTLS listen address")
	f.StringVar(&cfg.WSSAddr, "wss-addr", cfg.WSSAddr, "MQTT over secure WebSockets listen address (wss://<addr>/mqtt, client certificates as on --mqtt-addr; empty disables)")
	f.StringVar(&cfg.APIAddr, "api-addr", cfg.APIAddr, "operator and provisioning HTTPS listen address")
	f.StringVar(&cfg.OpsAddr, "ops-addr", cfg.OpsAddr, "plain-HTTP address for /metrics, /healthz, /readyz and /crl (empty disables)")
	f.BoolVar(&cfg.OpsPprof, "ops-pprof", cfg.OpsPprof, "also serve Go's /debug/pprof/ profiles on the ops listener (for measuring; off by default)")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL relying parties reach the revocation listener at; device certificates then name <url>/crl/<issuer-id>.crl and <url>/ocsp")
	f.StringVar(&cfg.RevocationAddr, "revocation-addr", cfg.RevocationAddr, "plain-HTTP address serving CRLs and OCSP to relying parties (default "+server.DefaultRevocationAddr+" when --public-url is set)")
	f.StringSliceVar(&cfg.ServerNames, "server-name", nil, "extra DNS name or IP for the server certificate (repeatable)")
	f.DurationVar(&cfg.HandshakeTimeout.Duration, "handshake-timeout", cfg.HandshakeTimeout.Duration, "deadline for the TLS handshake and the CONNECT packet")
	f.Uint32Var(&cfg.MaxPacketSize, "max-packet-size", cfg.MaxPacketSize, "largest MQTT packet accepted, in bytes")
	f.IntVar(&cfg.MaxPending, "max-pending", cfg.MaxPending, "connections allowed before they authenticate")
	f.DurationVar(&cfg.CertLifetime.Duration, "cert-lifetime", cfg.CertLifetime.Duration, "default device certificate lifetime")
	f.StringVar(&cfg.EKRoots, "ek-roots", cfg.EKRoots, "PEM bundle of TPM manufacturer roots (and intermediates) trusted for EK certificates")
	f.DurationVar(&cfg.ChallengeTTL.Duration, "challenge-ttl", cfg.ChallengeTTL.Duration, "lifetime of a TPM enrollment challenge")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn, error")
	f.DurationVar(&cfg.ReloadInterval.Duration, "reload-interval", cfg.ReloadInterval.Duration, "how often to check the CA files and --config for changes (0: reload on SIGHUP only)")
	f.IntVar(&cfg.GCPercent, "gc-percent", cfg.GCPercent, "garbage collector target percent (-1: off, needs --memory-limit); the GOGC environment variable wins")
	f.StringVar(&cfg.Registry, "registry", cfg.Registry, "registry: empty for <data>/registry.db, bolt://FILE, or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]")
	f.StringVar(&cfg.Role, "role", cfg.Role, "what this process runs: all, broker or api (broker and api need an etcd registry)")
	f.DurationVar(&cfg.RegistryGrace.Duration, "registry-grace", cfg.RegistryGrace.Duration, "etcd registry: how long a broker keeps judging devices from its local copy while etcd is unreachable")
	f.StringVar(&cfg.EtcdCA, "etcd-ca", "", "PEM CA bundle to verify etcd's TLS certificates")
	f.StringVar(&cfg.EtcdCert, "etcd-cert", "", "client certificate for etcd (with --etcd-key)")
	f.StringVar(&cfg.EtcdKey, "etcd-key", "", "client key for etcd")
	f.StringVar(&cfg.Bus, "bus", cfg.Bus, "NATS servers joining the brokers into one MQTT service: nats://HOST:PORT[,nats://HOST:PORT...] (empty: this broker on its own)")
	f.StringVar(&cfg.BusCA, "bus-ca", "", "PEM CA bundle to verify the NATS servers' TLS certificates")
	f.StringVar(&cfg.BusCert, "bus-cert", "", "client certificate for NATS (with --bus-key)")
	f.StringVar(&cfg.BusKey, "bus-key", "", "client key for NATS")
	f.DurationVar(&cfg.BusRetention.Duration, "bus-retention", cfg.BusRetention.Duration, "how long QoS 1 messages and persistent sessions wait on the bus (JetStream) for devices that are away")
	f.DurationVar(&cfg.BusStoreTimeout.Duration, "bus-store-timeout", cfg.BusStoreTimeout.Duration, "how long a QoS 1 PUBLISH may wait for the bus to store it before its publisher is refused (MQTT 5: PUBACK 0x80; 3.1.1: connection closed)")
	f.IntVar(&cfg.BusReplicas, "bus-replicas", cfg.BusReplicas, "NATS nodes holding each QoS 1 message and session record (0: as many as the cluster has, up to 3)")
	f.StringVar(&cfg.HSMModule, "hsm-module", "", "PKCS#11 module holding CA keys that <data>/ca names by reference (fleetgate ca init-hsm)")
	f.StringVar(&cfg.HSMToken, "hsm-token", "", "label of the PKCS#11 token holding the CA keys")
	f.StringVar(&cfg.HSMPINFile, "hsm-pin-file", "", "file holding the token's user PIN")
	f.StringVar(&cfg.HSMPINEnv, "hsm-pin-env", "", "name of an environment variable holding the token's user PIN")
	f.StringVar(&cfg.BundleDir, "bundle", "", "role broker: serve from this broker bundle (fleetgate ca broker-bundle) instead of <data>/ca; it holds no CA key")
	limitsFlags(f, &cfg)
	f.Var(&cfg.MemoryLimit, "memory-limit", "soft memory limit such as 2GiB (default none); the GOMEMLIMIT environment variable wins")
	return cmd
}

// serve runs the server until ctx ends (SIGINT/SIGTERM in main) or the
// server fails, reloading it on SIGHUP.
func serve(ctx context.Context, src configSource, out io.Writer) error {
	// SIGHUP is caught from the start: its default action would kill the
	// server, and an early one is handled once the server runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, err := src.load()
	if err != nil {
		return err
	}
	cfg.Reread = src.load // a reload layers file, environment and flags as here
	cfg.GCEnv = server.GCEnv{GOGC: os.Getenv("GOGC"), GOMEMLIMIT: os.Getenv("GOMEMLIMIT")}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	printBanner(out, cfg, srv.Endpoints())

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srv.Err():
			return err
		case <-hup:
			_ = srv.Reload("sighup") // each failed part is logged and keeps its previous value
		}
	}
}
