package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// Roles of a serve process. With a registry on etcd, brokers and the
// provisioning API can run as separate processes on separate hosts.
const (
	RoleAll    = "all"    // broker and API in one process
	RoleBroker = "broker" // MQTT only
	RoleAPI    = "api"    // operator and provisioning HTTPS API only
)

// registryTarget is a parsed registry setting.
type registryTarget struct {
	kind      string   // "bolt" or "etcd"
	path      string   // bolt file
	endpoints []string // etcd members
	prefix    string   // etcd key prefix
}

// parseRegistry reads the registry setting:
//
//	""                               <data_dir>/registry.db (bbolt, embedded)
//	bolt://data/registry.db          a bbolt file, relative or absolute (bolt:///var/lib/...)
//	etcd://h1:2379,h2:2379[/prefix]  an etcd cluster, key prefix /fleetgate unless given
func parseRegistry(raw, dataDir string) (registryTarget, error) {
	if raw == "" {
		return registryTarget{kind: "bolt", path: filepath.Join(dataDir, "registry.db")}, nil
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return registryTarget{}, fmt.Errorf("registry %q: want bolt://FILE or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]", raw)
	}
	switch scheme {
	case "bolt":
		if rest == "" {
			return registryTarget{}, fmt.Errorf("registry %q: no file", raw)
		}
		return registryTarget{kind: "bolt", path: rest}, nil
	case "etcd":
		hosts, prefix, _ := strings.Cut(rest, "/")
		t := registryTarget{kind: "etcd", prefix: "/" + prefix}
		if prefix == "" {
			t.prefix = store.DefaultEtcdPrefix
		}
		for _, h := range strings.Split(hosts, ",") {
			if _, _, err := net.SplitHostPort(h); err != nil {
				return registryTarget{}, fmt.Errorf("registry %q: etcd endpoint %q: want host:port", raw, h)
			}
			t.endpoints = append(t.endpoints, h)
		}
		return t, nil
	}
	return registryTarget{}, fmt.Errorf("registry %q: unknown scheme %q (want bolt or etcd)", raw, scheme)
}

// String names the registry for logs and the banner.
func (t registryTarget) String() string {
	if t.kind == "etcd" {
		return "etcd://" + strings.Join(t.endpoints, ",") + t.prefix
	}
	return t.path
}

// openRegistry opens the configured registry.
func openRegistry(cfg Config, log *slog.Logger) (*store.DB, error) {
	t, err := parseRegistry(cfg.Registry, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if t.kind == "bolt" {
		db, err := store.Open(t.path, store.Options{LockTimeout: time.Second, Logger: log})
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("another fleetgate server is already using %s; stop it or pass a different --data directory: %w", t.path, err)
		}
		if err != nil {
			return nil, fmt.Errorf("open registry: %w", err)
		}
		if err := db.Check(); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("registry %s failed its consistency check: %w", t.path, err)
		}
		return db, nil
	}
	eo := store.EtcdOptions{Endpoints: t.endpoints, Prefix: t.prefix, Grace: cfg.RegistryGrace.Duration}
	if eo.TLS, err = cfg.etcdTLS(); err != nil {
		return nil, err
	}
	db, err := store.OpenEtcd(eo, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", t, err)
	}
	return db, nil
}

// etcdTLS builds the client TLS configuration for etcd from etcd_ca,
// etcd_cert and etcd_key; nil when none is set (plain connections).
func (c Config) etcdTLS() (*tls.Config, error) {
	return clientTLS("etcd", c.EtcdCA, c.EtcdCert, c.EtcdKey)
}

// clientTLS builds a client TLS configuration from the <name>_ca,
// <name>_cert and <name>_key settings; nil when none is set.
func clientTLS(name, caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s_ca: %w", name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s_ca %s: no PEM certificate", name, caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s_cert/%s_key: %w", name, name, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// validateRegistry checks the registry and role settings.
func (c Config) validateRegistry() []error {
	var errs []error
	t, err := parseRegistry(c.Registry, c.DataDir)
	if err != nil {
		errs = append(errs, err)
	}
	switch c.Role {
	case RoleAll:
	case RoleBroker, RoleAPI:
		if err == nil && t.kind != "etcd" {
			errs = append(errs, fmt.Errorf("role %q needs a registry shared between processes (registry etcd://...); a bbolt file has one process", c.Role))
		}
	default:
		errs = append(errs, fmt.Errorf("role %q must be all, broker or api", c.Role))
	}
	if c.RegistryGrace.Duration < 0 {
		errs = append(errs, errors.New("registry_grace must not be negative"))
	}
	if (c.EtcdCert == "") != (c.EtcdKey == "") {
		errs = append(errs, errors.New("etcd_cert and etcd_key go together"))
	}
	return errs
}
