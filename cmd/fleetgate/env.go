package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/server"
)

// loadEnv applies the FLEETGATE_* variables that are set to c. The
// server reads no environment: this layer belongs to the command.
func loadEnv(c *server.Config, getenv func(string) string) error {
	str := map[string]*string{
		"FLEETGATE_DATA_DIR":   &c.DataDir,
		"FLEETGATE_MQTT_ADDR":  &c.MQTTAddr,
		"FLEETGATE_API_ADDR":   &c.APIAddr,
		"FLEETGATE_OPS_ADDR":   &c.OpsAddr,
		"FLEETGATE_LOG_FORMAT": &c.LogFormat,
		"FLEETGATE_LOG_LEVEL":  &c.LogLevel,
		"FLEETGATE_EK_ROOTS":   &c.EKRoots,
		"FLEETGATE_REGISTRY":   &c.Registry,
		"FLEETGATE_ROLE":       &c.Role,
		"FLEETGATE_ETCD_CA":    &c.EtcdCA,
		"FLEETGATE_ETCD_CERT":  &c.EtcdCert,
		"FLEETGATE_ETCD_KEY":   &c.EtcdKey,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("FLEETGATE_SERVER_NAMES"); v != "" {
		c.ServerNames = strings.Split(v, ",")
	}
	dur := map[string]*server.Duration{
		"FLEETGATE_HANDSHAKE_TIMEOUT": &c.HandshakeTimeout,
		"FLEETGATE_CERT_LIFETIME":     &c.CertLifetime,
		"FLEETGATE_CHALLENGE_TTL":     &c.ChallengeTTL,
		"FLEETGATE_RELOAD_INTERVAL":   &c.ReloadInterval,
		"FLEETGATE_REGISTRY_GRACE":    &c.RegistryGrace,
	}
	for k, p := range dur {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			p.Duration = d
		}
	}
	if v := getenv("FLEETGATE_MAX_PACKET_SIZE"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("FLEETGATE_MAX_PACKET_SIZE: %w", err)
		}
		c.MaxPacketSize = uint32(n)
	}
	if v := getenv("FLEETGATE_MAX_PENDING"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FLEETGATE_MAX_PENDING: %w", err)
		}
		c.MaxPending = n
	}
	if v := getenv("FLEETGATE_GC_PERCENT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FLEETGATE_GC_PERCENT: %w", err)
		}
		c.GCPercent = n
	}
	if v := getenv("FLEETGATE_MEMORY_LIMIT"); v != "" {
		if err := c.MemoryLimit.Set(v); err != nil {
			return fmt.Errorf("FLEETGATE_MEMORY_LIMIT: %w", err)
		}
	}
	return nil
}
