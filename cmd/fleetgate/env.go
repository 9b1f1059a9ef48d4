package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/server"
)

// loadEnv applies the FLEETGATE_* variables that are set to c, and
// returns the first one that does not parse. The server reads no
// environment: this layer belongs to the command.
func loadEnv(c *server.Config, getenv func(string) string) error {
	text := func(s string) (string, error) { return s, nil }
	list := func(s string) ([]string, error) { return strings.Split(s, ","), nil }
	duration := func(s string) (server.Duration, error) {
		d, err := time.ParseDuration(s)
		return server.Duration{Duration: d}, err
	}
	size := func(s string) (uint32, error) {
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err
	}
	for _, err := range []error{
		fromEnv(getenv, text, map[string]*string{
			"FLEETGATE_DATA_DIR":        &c.DataDir,
			"FLEETGATE_MQTT_ADDR":       &c.MQTTAddr,
			"FLEETGATE_WSS_ADDR":        &c.WSSAddr,
			"FLEETGATE_API_ADDR":        &c.APIAddr,
			"FLEETGATE_OPS_ADDR":        &c.OpsAddr,
			"FLEETGATE_PUBLIC_URL":      &c.PublicURL,
			"FLEETGATE_REVOCATION_ADDR": &c.RevocationAddr,
			"FLEETGATE_LOG_FORMAT":      &c.LogFormat,
			"FLEETGATE_LOG_LEVEL":       &c.LogLevel,
			"FLEETGATE_EK_ROOTS":        &c.EKRoots,
			"FLEETGATE_REGISTRY":        &c.Registry,
			"FLEETGATE_ROLE":            &c.Role,
			"FLEETGATE_ETCD_CA":         &c.EtcdCA,
			"FLEETGATE_ETCD_CERT":       &c.EtcdCert,
			"FLEETGATE_ETCD_KEY":        &c.EtcdKey,
			"FLEETGATE_BUS":             &c.Bus,
			"FLEETGATE_BUS_CA":          &c.BusCA,
			"FLEETGATE_BUS_CERT":        &c.BusCert,
			"FLEETGATE_BUS_KEY":         &c.BusKey,
			"FLEETGATE_BUNDLE_DIR":      &c.BundleDir,
			"FLEETGATE_HSM_MODULE":      &c.HSMModule,
			"FLEETGATE_HSM_TOKEN":       &c.HSMToken,
			"FLEETGATE_HSM_PIN_FILE":    &c.HSMPINFile,
			"FLEETGATE_HSM_PIN_ENV":     &c.HSMPINEnv,
		}),
		fromEnv(getenv, list, map[string]*[]string{"FLEETGATE_SERVER_NAMES": &c.ServerNames}),
		fromEnv(getenv, duration, map[string]*server.Duration{
			"FLEETGATE_HANDSHAKE_TIMEOUT": &c.HandshakeTimeout,
			"FLEETGATE_CERT_LIFETIME":     &c.CertLifetime,
			"FLEETGATE_CHALLENGE_TTL":     &c.ChallengeTTL,
			"FLEETGATE_RELOAD_INTERVAL":   &c.ReloadInterval,
			"FLEETGATE_REGISTRY_GRACE":    &c.RegistryGrace,
			"FLEETGATE_BUS_RETENTION":     &c.BusRetention,
			"FLEETGATE_BUS_STORE_TIMEOUT": &c.BusStoreTimeout,
		}),
		fromEnv(getenv, size, map[string]*uint32{"FLEETGATE_MAX_PACKET_SIZE": &c.MaxPacketSize}),
		fromEnv(getenv, strconv.Atoi, map[string]*int{
			"FLEETGATE_MAX_PENDING":  &c.MaxPending,
			"FLEETGATE_GC_PERCENT":   &c.GCPercent,
			"FLEETGATE_BUS_REPLICAS": &c.BusReplicas,
		}),
		fromEnv(getenv, strconv.ParseBool, map[string]*bool{"FLEETGATE_OPS_PPROF": &c.OpsPprof}),
		fromEnv(getenv, server.ParseByteSize, map[string]*server.ByteSize{"FLEETGATE_MEMORY_LIMIT": &c.MemoryLimit}),
		limitsEnv(c, getenv),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// fromEnv sets *dst from each variable of vars that is set, parsed by
// parse; an unset or empty variable leaves its field alone.
func fromEnv[T any](getenv func(string) string, parse func(string) (T, error), vars map[string]*T) error {
	for name, dst := range vars {
		v := getenv(name)
		if v == "" {
			continue
		}
		x, err := parse(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*dst = x
	}
	return nil
}
