package server

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// reloadConfig reads the configuration again (through Config.Reread,
// layered as at start) and applies the fields that can change while
// serving: log_level, handshake_timeout, max_pending, cert_lifetime and
// reload_interval. Other changed fields are listed as needing a restart
// and keep their running value, so the notice repeats at every reload
// until the restart.
func (r *reloader) reloadConfig(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := r.loadCfg()
	if err != nil {
		r.log.Error("reload failed; keeping the previous configuration", "trigger", trigger, "part", "config", "error", err.Error())
		return err
	}
	changes, errs := r.applyConfig(next)
	if restart := restartFields(r.cfg, next); len(restart) > 0 {
		r.log.Warn("configuration changes need a restart", "fields", restart)
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Error("reload failed for some fields; they keep their previous value", "trigger", trigger, "part", "config", "error", err.Error())
	}
	r.log.Info("reloaded", "trigger", trigger, "part", "config", "changes", orNone(changes))
	return errors.Join(errs...)
}

// applyConfig applies the reloadable fields of next that differ from the
// configuration in effect, and records those that took.
func (r *reloader) applyConfig(next Config) (changes []string, errs []error) {
	cur := &r.cfg
	if next.LogLevel != cur.LogLevel {
		lvl, err := next.level()
		if err != nil {
			errs = append(errs, err)
		} else {
			r.level.Set(lvl)
			changes = append(changes, fmt.Sprintf("log_level %s -> %s", cur.LogLevel, next.LogLevel))
			cur.LogLevel = next.LogLevel
		}
	}
	apply := func(name string, was, is any, set func() error, commit func()) {
		if was == is {
			return
		}
		if err := set(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		changes = append(changes, fmt.Sprintf("%s %v -> %v", name, was, is))
		commit()
	}
	apply("handshake_timeout", cur.HandshakeTimeout.Duration, next.HandshakeTimeout.Duration,
		func() error { return r.brk.SetHandshakeTimeout(next.HandshakeTimeout.Duration) },
		func() { cur.HandshakeTimeout = next.HandshakeTimeout })
	apply("max_pending", cur.MaxPending, next.MaxPending,
		func() error { return r.brk.SetMaxPending(next.MaxPending) },
		func() { cur.MaxPending = next.MaxPending })
	apply("cert_lifetime", cur.CertLifetime.Duration, next.CertLifetime.Duration,
		func() error { return r.api.SetDefaultLifetime(next.CertLifetime.Duration) },
		func() { cur.CertLifetime = next.CertLifetime })
	apply("reload_interval", cur.ReloadInterval.Duration, next.ReloadInterval.Duration,
		func() error { r.interval.Store(int64(next.ReloadInterval.Duration)); return nil },
		func() { cur.ReloadInterval = next.ReloadInterval })
	return changes, errs
}

// restartFields names the fields of next that differ from cur but are read
// only at start: listeners, the data directory, mochi's packet limit, the
// EK trust roots, the challenge lifetime, the log format and the garbage
// collector settings.
func restartFields(cur, next Config) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("data_dir", cur.DataDir != next.DataDir)
	add("mqtt_addr", cur.MQTTAddr != next.MQTTAddr)
	add("wss_addr", cur.WSSAddr != next.WSSAddr)
	add("api_addr", cur.APIAddr != next.APIAddr)
	add("ops_addr", cur.OpsAddr != next.OpsAddr)
	add("ops_pprof", cur.OpsPprof != next.OpsPprof)
	add("server_names", !slices.Equal(cur.ServerNames, next.ServerNames))
	add("public_url", cur.PublicURL != next.PublicURL)
	add("revocation_addr", cur.RevocationAddr != next.RevocationAddr)
	add("max_packet_size", cur.MaxPacketSize != next.MaxPacketSize)
	add("ek_roots", cur.EKRoots != next.EKRoots)
	add("challenge_ttl", cur.ChallengeTTL != next.ChallengeTTL)
	add("log_format", cur.LogFormat != next.LogFormat)
	add("gc_percent", cur.GCPercent != next.GCPercent)
	add("memory_limit", cur.MemoryLimit != next.MemoryLimit)
	add("registry", cur.Registry != next.Registry)
	add("registry_grace", cur.RegistryGrace != next.RegistryGrace)
	add("role", cur.Role != next.Role)
	add("bundle_dir", cur.BundleDir != next.BundleDir)
	add("etcd_ca", cur.EtcdCA != next.EtcdCA)
	add("etcd_cert", cur.EtcdCert != next.EtcdCert)
	add("etcd_key", cur.EtcdKey != next.EtcdKey)
	return out
}

// reloadInterval is the current file check period; 0 means SIGHUP only.
func (r *reloader) reloadInterval() time.Duration { return time.Duration(r.interval.Load()) }
