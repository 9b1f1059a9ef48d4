package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fleetgate/fleetgate/bus"
)

// validateBus checks the bus settings.
func (c Config) validateBus() []error {
	var errs []error
	if c.Bus == "" {
		if c.BusCA != "" || c.BusCert != "" || c.BusKey != "" {
			errs = append(errs, errors.New("bus_ca, bus_cert and bus_key need bus"))
		}
		return errs
	}
	if _, err := bus.ParseURLs(c.Bus); err != nil {
		errs = append(errs, fmt.Errorf("bus: %w", err))
	}
	if c.Role == RoleAPI {
		errs = append(errs, errors.New("bus is for processes running a broker (role all or broker), not role api"))
	}
	if c.BusRetention.Duration < time.Minute {
		errs = append(errs, fmt.Errorf("bus_retention %v: want at least 1m (how long QoS 1 messages wait for devices that are away)", c.BusRetention.Duration))
	}
	if c.BusStoreTimeout.Duration < time.Second || c.BusStoreTimeout.Duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("bus_store_timeout %v: want 1s to 10m (how long a QoS 1 PUBLISH may wait for the bus to store it)", c.BusStoreTimeout.Duration))
	}
	if c.BusReplicas < 0 || c.BusReplicas > 5 {
		errs = append(errs, fmt.Errorf("bus_replicas %d: want 0 (as many NATS nodes as there are, up to 3) to 5", c.BusReplicas))
	}
	if (c.BusCert == "") != (c.BusKey == "") {
		errs = append(errs, errors.New("bus_cert and bus_key go together"))
	}
	return errs
}

// dialBus connects to the bus when one is configured; nil otherwise.
// origin names this broker instance on it.
func dialBus(c Config, origin string, log *slog.Logger) (*bus.Conn, error) {
	if c.Bus == "" {
		return nil, nil
	}
	tc, err := clientTLS("bus", c.BusCA, c.BusCert, c.BusKey)
	if err != nil {
		return nil, err
	}
	return bus.Dial(bus.Options{URLs: c.Bus, TLS: tc, Origin: origin, Logger: log,
		Retention: c.BusRetention.Duration, Replicas: c.BusReplicas, PublishTimeout: c.BusStoreTimeout.Duration})
}

// instanceID names this process among the brokers: host name and a random
// part, new at every start.
func instanceID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return host + "/" + hex.EncodeToString(b[:])
}
