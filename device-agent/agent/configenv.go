package agent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable LoadEnv reads:
// DEVICE_AGENT_ plus the JSON field name in upper case, e.g.
// DEVICE_AGENT_BROKER or DEVICE_AGENT_BACKOFF_MAX.
const EnvPrefix = "DEVICE_AGENT_"

// LoadEnv applies the environment variables getenv returns (os.Getenv in
// the binary) over c. Subscribe is a comma-separated list; so is
// DEVICE_AGENT_BROKER or DEVICE_AGENT_BROKERS (see SetBrokers).
func (c *Config) LoadEnv(getenv func(string) string) error {
	strs := map[string]*string{
		"device_id": &c.DeviceID, "provisioning_url": &c.ProvisioningURL,
		"ca_file": &c.CAFile, "key_source": &c.KeySource, "tpm_path": &c.TPMPath,
		"token_file": &c.TokenFile, "state_dir": &c.StateDir, "status_topic": &c.StatusTopic,
	}
	durs := map[string]*Duration{
		"backoff_min": &c.BackoffMin, "backoff_max": &c.BackoffMax, "connect_timeout": &c.ConnectTimeout,
		"keepalive": &c.KeepAlive, "request_timeout": &c.RequestTimeout, "schedule_check": &c.ScheduleCheck,
	}
	floats := map[string]*float64{"rotate_at": &c.RotateAt, "rotate_jitter": &c.RotateJitter}
	ints := map[string]*int{"max_queued": &c.MaxQueued, "max_inflight": &c.MaxInflight}

	var errs []error
	lookup := func(name string) (string, bool) {
		v := getenv(EnvPrefix + strings.ToUpper(name))
		return v, v != ""
	}
	for name, p := range strs {
		if v, ok := lookup(name); ok {
			*p = v
		}
	}
	for name, p := range durs {
		if v, ok := lookup(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, strings.ToUpper(name), err))
			}
			p.Duration = d
		}
	}
	for name, p := range floats {
		if v, ok := lookup(name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, strings.ToUpper(name), err))
			}
			*p = f
		}
	}
	for name, p := range ints {
		if v, ok := lookup(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, strings.ToUpper(name), err))
			}
			*p = n
		}
	}
	if v, ok := lookup("subscribe"); ok {
		c.Subscribe = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Subscribe = append(c.Subscribe, s)
			}
		}
	}
	// Either variable takes one address or a comma-separated list and
	// replaces both broker and brokers of the file.
	broker, hasBroker := lookup("broker")
	brokers, hasBrokers := lookup("brokers")
	switch {
	case hasBroker && hasBrokers:
		errs = append(errs, fmt.Errorf("%sBROKER and %sBROKERS: set one of them", EnvPrefix, EnvPrefix))
	case hasBroker:
		c.SetBrokers(broker)
	case hasBrokers:
		c.SetBrokers(brokers)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}
