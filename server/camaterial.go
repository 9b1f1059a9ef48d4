package server

import (
	"fmt"
	"log/slog"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// caSource is where a process's CA material comes from, and how a reload
// reads it again: the CA directory under data_dir (roles all and api, and
// broker for compatibility), or a broker bundle (bundle_dir, role broker),
// which holds the server certificate and key and the device trust, and no
// CA key.
type caSource struct {
	dir       string
	bundle    bool
	files     []string                     // watched for changes
	load      func(string) (*ca.CA, error) // what a reload reads
	renewHint string                       // what to do about a server certificate close to expiry
}

// caSource returns the source the configuration names.
func (c Config) caSource() caSource {
	if c.BundleDir != "" {
		return caSource{dir: c.BundleDir, bundle: true, files: ca.BundleFiles(), load: ca.LoadBrokerBundle,
			renewHint: "write a new bundle on the CA host with `fleetgate ca broker-bundle` and copy it here"}
	}
	return caSource{dir: c.CADir(), files: ca.MaterialFiles(), load: ca.Load,
		renewHint: "run `fleetgate ca renew-server`"}
}

// fingerprint digests the files of the source.
func (src caSource) fingerprint() fingerprint { return fingerprintFiles(src.dir, src.files) }

// openCA loads the CA material at start. A bundle is only read; the CA
// directory is created on a first start and its server certificate
// renewed as needed (ca.Bootstrap). A broker holding CA keys is warned
// about them: it needs none.
func openCA(cfg Config, src caSource, log *slog.Logger) (*ca.CA, error) {
	if src.bundle {
		authority, err := ca.LoadBrokerBundle(src.dir)
		if err != nil {
			return nil, fmt.Errorf("broker bundle (bundle_dir): %w", err)
		}
		log.Info("loaded the broker bundle", "dir", src.dir, "server_certificate", ca.SerialHex(authority.ServerCertificate().Leaf),
			"device_intermediates", 1+len(authority.TrustedDeviceCAs()))
		warnCAKeys(cfg, src, log)
		return authority, nil
	}
	authority, created, err := ca.Bootstrap(src.dir, ca.BootstrapOptions{ServerNames: cfg.ServerNames, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	if len(created) > 0 {
		log.Info("created CA material", "dir", src.dir, "files", created)
	}
	warnCAKeys(cfg, src, log)
	return authority, nil
}

// warnCAKeys warns a broker process about CA private keys next to its
// material: a broker signs nothing, and a key on a host that does not
// need it is one more place to steal it from.
func warnCAKeys(cfg Config, src caSource, log *slog.Logger) {
	if cfg.Role != RoleBroker {
		return
	}
	if keys := ca.CAKeysIn(src.dir); len(keys) > 0 {
		log.Warn("CA private keys on a broker host are not needed: write a bundle with `fleetgate ca broker-bundle` on the CA host, start the broker with --bundle DIR, and remove the keys here",
			"dir", src.dir, "keys", keys)
	}
}
