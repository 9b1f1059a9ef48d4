package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

func serveCommand() *cobra.Command {
	cfg := DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker and the provisioning API over one registry (the embedded default)",
		Long: `Run the mTLS MQTT broker and the operator/provisioning HTTPS API in one
process over one bbolt registry file in the data directory. On first start the
CA (root, device-issuing intermediate, server and first operator certificates)
is created under <data_dir>/ca.

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
	f.StringVar(&cfg.APIAddr, "api-addr", cfg.APIAddr, "operator and provisioning HTTPS listen address")
	f.StringVar(&cfg.OpsAddr, "ops-addr", cfg.OpsAddr, "plain-HTTP address for /metrics, /healthz, /readyz and /crl (empty disables)")
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
	f.Var(&cfg.MemoryLimit, "memory-limit", "soft memory limit such as 2GiB (default none); the GOMEMLIMIT environment variable wins")
	return cmd
}

// configSource reads the configuration the way serve read it at start, so
// that a reload sees the same precedence: defaults, file, environment,
// flags.
type configSource struct {
	file  string
	cmd   *cobra.Command
	flags Config // the values bound to the flags; only those set are used
}

func (s configSource) load() (Config, error) {
	final := DefaultConfig()
	if s.file != "" {
		if err := final.LoadFile(s.file); err != nil {
			return Config{}, err
		}
	}
	if err := final.LoadEnv(os.Getenv); err != nil {
		return Config{}, err
	}
	// Flags win over the file and env: re-apply the ones the user set.
	applyFlags(s.cmd, &final, s.flags)
	if err := final.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return final, nil
}

// applyFlags copies the flags the user set on the command line into dst.
func applyFlags(cmd *cobra.Command, dst *Config, src Config) {
	set := func(name string, apply func()) {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	set("data", func() { dst.DataDir = src.DataDir })
	set("mqtt-addr", func() { dst.MQTTAddr = src.MQTTAddr })
	set("api-addr", func() { dst.APIAddr = src.APIAddr })
	set("ops-addr", func() { dst.OpsAddr = src.OpsAddr })
	set("server-name", func() { dst.ServerNames = src.ServerNames })
	set("handshake-timeout", func() { dst.HandshakeTimeout = src.HandshakeTimeout })
	set("max-packet-size", func() { dst.MaxPacketSize = src.MaxPacketSize })
	set("max-pending", func() { dst.MaxPending = src.MaxPending })
	set("cert-lifetime", func() { dst.CertLifetime = src.CertLifetime })
	set("ek-roots", func() { dst.EKRoots = src.EKRoots })
	set("challenge-ttl", func() { dst.ChallengeTTL = src.ChallengeTTL })
	set("log-format", func() { dst.LogFormat = src.LogFormat })
	set("log-level", func() { dst.LogLevel = src.LogLevel })
	set("reload-interval", func() { dst.ReloadInterval = src.ReloadInterval })
	set("gc-percent", func() { dst.GCPercent = src.GCPercent })
	set("memory-limit", func() { dst.MemoryLimit = src.MemoryLimit })
	set("registry", func() { dst.Registry = src.Registry })
	set("registry-grace", func() { dst.RegistryGrace = src.RegistryGrace })
	set("role", func() { dst.Role = src.Role })
	set("etcd-ca", func() { dst.EtcdCA = src.EtcdCA })
	set("etcd-cert", func() { dst.EtcdCert = src.EtcdCert })
	set("etcd-key", func() { dst.EtcdKey = src.EtcdKey })
}

// serve runs until ctx is cancelled (SIGINT/SIGTERM in main).
func serve(ctx context.Context, src configSource, out io.Writer) error {
	// SIGHUP is caught from the start: its default action would kill the
	// server, and an early one is handled once the watcher runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// Digests are taken before the files are read, so that a change made
	// while the server starts is reloaded rather than missed.
	cfgFP := configFingerprint(src.file)
	cfg, err := src.load()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	log := cfg.Logger(level)
	applyGC(cfg, processGC, log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}

	// The registry lock comes first: a second server on the same data
	// directory must stop here, before it touches the CA files.
	db, err := openRegistry(cfg, log.With("component", "registry"))
	if err != nil {
		return err
	}
	defer db.Close()

	caFP := caFingerprint(cfg.CADir())
	authority, created, err := ca.Bootstrap(cfg.CADir(), ca.BootstrapOptions{ServerNames: cfg.ServerNames, Logger: log.With("component", "ca")})
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	if len(created) > 0 {
		log.Info("created CA material", "dir", cfg.CADir(), "files", created)
	}

	rl := &reloader{log: log.With("component", "reload"), level: level, caDir: cfg.CADir(), loadCfg: src.load, cfg: cfg}
	rl.authority.Store(authority)
	rl.interval.Store(int64(cfg.ReloadInterval.Duration))

	metricsReg := newMetricsRegistry()
	registerRegistryMetrics(metricsReg, db)
	runBroker, runAPI := cfg.Role != RoleAPI, cfg.Role != RoleBroker

	var brk *broker.Broker
	brokerDone := make(<-chan struct{}) // never closed without a broker
	mqttAddr := "not run (role api)"
	if runBroker {
		brk, err = broker.New(broker.Config{
			Metrics:          broker.NewMetrics(metricsReg),
			Addr:             cfg.MQTTAddr,
			GetCertificate:   func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return rl.current().ServerCertificate(), nil },
			ClientCAs:        authority.DevicePool(),
			HandshakeTimeout: cfg.HandshakeTimeout.Duration,
			MaxPacketSize:    cfg.MaxPacketSize,
			MaxPending:       cfg.MaxPending,
			Logger:           log.With("component", "broker"),
		}, db)
		if err != nil {
			return err
		}
		if err := brk.Start(ctx); err != nil {
			return fmt.Errorf("start broker on %s: %w", cfg.MQTTAddr, err)
		}
		defer brk.Close()
		rl.brk = brk
		brokerDone = brk.Done()
		mqttAddr = brk.Addr().String()
	}

	apiErr := make(chan error, 1)
	var srv *http.Server
	apiAddr := "not run (role broker)"
	if runAPI {
		apiLn, err := net.Listen("tcp", cfg.APIAddr)
		if err != nil {
			return fmt.Errorf("start API on %s: %w", cfg.APIAddr, err)
		}
		apiCfg := api.Config{
			Metrics:         api.NewMetrics(metricsReg),
			Logger:          log.With("component", "api"),
			DefaultLifetime: cfg.CertLifetime.Duration,
			ChallengeTTL:    cfg.ChallengeTTL.Duration,
		}
		if cfg.EKRoots != "" {
			apiCfg.EKRoots, apiCfg.EKIntermediates, err = api.LoadEKRoots(cfg.EKRoots)
			if err != nil {
				return fmt.Errorf("ek_roots %s: %w", cfg.EKRoots, err)
			}
		}
		handler := api.New(db, authority, apiCfg)
		rl.api = handler
		srv = handler.Server(cfg.APIAddr)
		go func() { apiErr <- srv.ServeTLS(apiLn, "", "") }()
		apiAddr = "https://" + apiLn.Addr().String()
	}

	opsAddr := "disabled"
	if cfg.OpsAddr != "" {
		ops := &opsServer{db: db, authority: rl.current, log: log.With("component", "ops"), ready: func() bool {
			select {
			case <-brokerDone:
				return false
			default:
				return !db.Health().PastGrace
			}
		}}
		ops.revocations = newRevocationCounter(metricsReg)
		go ops.watchRevocations(ctx)
		a, err := serveOps(ctx, cfg.OpsAddr, ops.handler(metricsReg), log)
		if err != nil {
			return fmt.Errorf("start ops listener on %s: %w", cfg.OpsAddr, err)
		}
		opsAddr = "http://" + a.String()
	}

	go rl.watch(ctx, hup, src.file, caFP, cfgFP)

	printBanner(out, cfg, mqttAddr, apiAddr, opsAddr, db.Path())
	log.Info("fleetgate serving", "role", cfg.Role, "mqtt", mqttAddr, "api", apiAddr, "registry", db.Path(), "data", cfg.DataDir)

	select {
	case <-ctx.Done():
	case err := <-apiErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("API server: %w", err)
		}
	}
	log.Info("shutting down")
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	return nil
}

func printBanner(out io.Writer, cfg Config, mqttAddr, apiAddr, opsAddr, registry string) {
	caDir := cfg.CADir()
	fmt.Fprintf(out, `fleetgate is running (role %s)
  MQTT (mTLS):       %s
  API (HTTPS):       %s
  ops (metrics):     %s
  registry:          %s
  data directory:    %s
  server trust root: %s
  operator cert:     %s (key %s)

Next: register a device and issue its certificate from another terminal:
  ./bin/fleetgate device register dev-001
  ./bin/fleetgate cert issue dev-001 --new-key dev-001.key --out dev-001.crt
then publish with:
  mosquitto_pub -h localhost -p %s --cafile %s --cert dev-001.crt --key dev-001.key -i dev-001 -t devices/dev-001/hello -m hi
`, cfg.Role, mqttAddr, apiAddr, opsAddr, registry, cfg.DataDir,
		filepath.Join(caDir, ca.RootCertFile), filepath.Join(caDir, ca.AdminCertFile), filepath.Join(caDir, ca.AdminKeyFile),
		portOf(mqttAddr), filepath.Join(caDir, ca.RootCertFile))
}

func portOf(a string) string {
	_, p, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	return p
}
