package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/server"
)

// configSource reads the configuration the way serve read it at start, so
// that a reload sees the same precedence: defaults, file, environment,
// flags.
type configSource struct {
	file  string
	cmd   *cobra.Command
	flags server.Config // the values bound to the flags; only those set are used
}

func (s configSource) load() (server.Config, error) {
	final := server.DefaultConfig()
	if s.file != "" {
		if err := final.LoadFile(s.file); err != nil {
			return server.Config{}, err
		}
	}
	if err := loadEnv(&final, os.Getenv); err != nil {
		return server.Config{}, err
	}
	// Flags win over the file and env: re-apply the ones the user set.
	applyFlags(s.cmd, &final, s.flags)
	if err := final.Validate(); err != nil {
		return server.Config{}, err // names ErrInvalidConfig and every bad field
	}
	return final, nil
}

// applyFlags copies the flags the user set on the command line into dst.
func applyFlags(cmd *cobra.Command, dst *server.Config, src server.Config) {
	set := func(name string, apply func()) {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	set("data", func() { dst.DataDir = src.DataDir })
	set("mqtt-addr", func() { dst.MQTTAddr = src.MQTTAddr })
	set("wss-addr", func() { dst.WSSAddr = src.WSSAddr })
	set("api-addr", func() { dst.APIAddr = src.APIAddr })
	set("ops-addr", func() { dst.OpsAddr = src.OpsAddr })
	set("ops-pprof", func() { dst.OpsPprof = src.OpsPprof })
	set("public-url", func() { dst.PublicURL = src.PublicURL })
	set("revocation-addr", func() { dst.RevocationAddr = src.RevocationAddr })
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
	set("bus", func() { dst.Bus = src.Bus })
	set("bus-ca", func() { dst.BusCA = src.BusCA })
	set("bus-cert", func() { dst.BusCert = src.BusCert })
	set("bus-key", func() { dst.BusKey = src.BusKey })
	set("bus-retention", func() { dst.BusRetention = src.BusRetention })
	set("bus-replicas", func() { dst.BusReplicas = src.BusReplicas })
	set("bus-store-timeout", func() { dst.BusStoreTimeout = src.BusStoreTimeout })
	set("bundle", func() { dst.BundleDir = src.BundleDir })
	set("hsm-module", func() { dst.HSMModule = src.HSMModule })
	set("hsm-token", func() { dst.HSMToken = src.HSMToken })
	set("hsm-pin-file", func() { dst.HSMPINFile = src.HSMPINFile })
	set("hsm-pin-env", func() { dst.HSMPINEnv = src.HSMPINEnv })
	applyLimitsFlags(cmd, dst, src)
}
