package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/identity"
)

// Validate reports every problem of the configuration at once, wrapped in
// ErrConfig. Zero values that have defaults are accepted (New fills them).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := identity.ValidateID(c.DeviceID); err != nil {
		bad("device_id: %v", err)
	}
	if u, err := url.Parse(c.ProvisioningURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("provisioning_url %q: want https://host:port", c.ProvisioningURL)
	}
	switch {
	case c.Broker != "" && len(c.Brokers) > 0:
		bad("broker %q and brokers %q: set one of them (brokers alone for several addresses)", c.Broker, c.Brokers)
	case len(c.Brokers) > 0:
		seen := make(map[string]bool, len(c.Brokers))
		for i, b := range c.Brokers {
			if err := checkAddr(b); err != nil {
				bad("brokers[%d] %q: %v", i, b, err)
			} else if seen[b] {
				bad("brokers[%d] %q: listed twice", i, b)
			}
			seen[b] = true
		}
	default:
		if err := checkAddr(c.Broker); err != nil {
			bad("broker %q: %v", c.Broker, err)
		}
	}
	if c.CAFile == "" && c.RootCAs == nil {
		bad("ca_file: required (the fleet root CA in PEM)")
	}
	switch c.KeySource {
	case KeyTPM:
		if c.TPM == nil && !strings.HasPrefix(c.TPMPath, "/") && !strings.HasPrefix(c.TPMPath, "tcp://") {
			bad("tpm_path %q: want /dev/tpmrm0 or tcp://host:port", c.TPMPath)
		}
	case KeySoftware:
	default:
		bad("key_source %q: want %q or %q", c.KeySource, KeyTPM, KeySoftware)
	}
	if err := checkSuffix(c.StatusTopic, false); err != nil {
		bad("status_topic: %v", err)
	}
	for _, s := range c.Subscribe {
		if err := checkSuffix(s, true); err != nil {
			bad("subscribe: %v", err)
		}
	}
	if c.RotateAt <= 0 || c.RotateAt >= 1 {
		bad("rotate_at %v: want a fraction of the lifetime between 0 and 1", c.RotateAt)
	}
	if c.RotateJitter < 0 || c.RotateJitter >= c.RotateAt {
		bad("rotate_jitter %v: want a fraction below rotate_at", c.RotateJitter)
	}
	if c.BackoffMin.Duration <= 0 || c.BackoffMax.Duration < c.BackoffMin.Duration {
		bad("backoff_min %s, backoff_max %s: want 0 < min <= max", c.BackoffMin, c.BackoffMax)
	}
	for name, d := range map[string]Duration{
		"connect_timeout": c.ConnectTimeout, "keepalive": c.KeepAlive,
		"request_timeout": c.RequestTimeout, "schedule_check": c.ScheduleCheck,
		"trust_refresh": c.TrustRefresh,
	} {
		if d.Duration <= 0 {
			bad("%s %s: must be positive", name, d)
		}
	}
	if c.KeepAlive.Duration > 65535*time.Second {
		bad("keepalive %s: MQTT allows up to 65535s", c.KeepAlive)
	}
	if c.MaxQueued < 1 || c.MaxInflight < 1 {
		bad("max_queued %d, max_inflight %d: must be positive", c.MaxQueued, c.MaxInflight)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// checkSuffix checks a topic suffix below devices/<id>/: not empty, no
// leading or trailing '/', no '$' and, for a topic (not a filter), no
// wildcards. The broker would refuse anything else anyway.
func checkSuffix(s string, filter bool) error {
	switch {
	case s == "":
		return errors.New("empty topic suffix")
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return fmt.Errorf("topic suffix %q: no leading or trailing '/'", s)
	case strings.ContainsAny(s, "\x00$"):
		return fmt.Errorf("topic suffix %q: no NUL or '$'", s)
	case !filter && strings.ContainsAny(s, "+#"):
		return fmt.Errorf("topic suffix %q: no wildcards in a topic", s)
	}
	if filter {
		levels := strings.Split(s, "/")
		for i, l := range levels {
			if (strings.Contains(l, "#") && (l != "#" || i != len(levels)-1)) ||
				(strings.Contains(l, "+") && l != "+") {
				return fmt.Errorf("topic filter suffix %q: misplaced wildcard", s)
			}
		}
	}
	return nil
}

// checkAddr checks a broker address: host:port, with a numeric port.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return errors.New("want host:port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	return nil
}
