package agent

import (
	"crypto"
	"crypto/x509"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-tpm/tpm2/transport"
)

// Key sources.
const (
	// KeyTPM keeps every private key in the TPM and enrolls by attestation.
	KeyTPM = "tpm"
	// KeySoftware keeps an ECDSA P-256 key in the state directory and
	// enrolls with a one-time token; only groups that allow tokens accept it.
	KeySoftware = "software"
)

// Defaults, documented in the README's configuration reference.
const (
	DefaultTPMPath        = "/dev/tpmrm0"
	DefaultStatusTopic    = "status"
	DefaultRotateAt       = 2.0 / 3.0
	DefaultRotateJitter   = 0.05
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = 2 * time.Minute
	DefaultConnectTimeout = 30 * time.Second
	DefaultKeepAlive      = 60 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultScheduleCheck  = time.Minute
	DefaultMaxQueued      = 1000
	DefaultMaxInflight    = 32
	DefaultTrustRefresh   = 24 * time.Hour
)

// Config is everything an agent needs. The JSON fields are what the
// device-agent binary reads from its configuration file; the others are
// for programs that embed the agent (the fleet simulator, tests).
type Config struct {
	// DeviceID is the device's identity: its certificate names
	// urn:fleetgate:device:<DeviceID> and it is its MQTT client ID.
	DeviceID string `json:"device_id"`
	// ProvisioningURL is the base URL of the provisioning API, e.g.
	// https://fleet.example:8443.
	ProvisioningURL string `json:"provisioning_url"`
	// Broker is the MQTT-over-mTLS address, host:port. Brokers lists
	// several instead (brokers sharing one registry): the agent connects
	// to one of them and moves to the next when it cannot reach it or
	// loses its session. Set one of the two, not both.
	Broker  string   `json:"broker,omitempty"`
	Brokers []string `json:"brokers,omitempty"`
	// CAFile is a PEM file with the fleet root that signs the API's and
	// the broker's certificates. RootCAs, if set, is used instead.
	CAFile string `json:"ca_file,omitempty"`
	// KeySource is KeyTPM or KeySoftware.
	KeySource string `json:"key_source"`
	// TPMPath is the TPM to open for KeyTPM: /dev/tpmrm0 or
	// tcp://host:port (swtpm). TPM, if set, is used instead.
	TPMPath string `json:"tpm_path,omitempty"`
	// TokenFile holds a one-time enrollment token (software keys). It is
	// read when the device has to enroll; a token already used is not
	// offered again.
	TokenFile string `json:"token_file,omitempty"`
	// StateDir keeps the key, certificate and rotation progress across
	// restarts. Empty keeps them in memory (simulator); StateStore, if
	// set, is used instead.
	StateDir string `json:"state_dir,omitempty"`

	// StatusTopic is the topic suffix (under devices/<id>/) of the
	// retained "online"/"offline" status and the Will.
	StatusTopic string `json:"status_topic,omitempty"`
	// Subscribe lists topic filter suffixes (under devices/<id>/) the agent
	// subscribes to at QoS 1; messages go to Hooks.OnMessage.
	Subscribe []string `json:"subscribe,omitempty"`

	// RotateAt is the fraction of the certificate's lifetime after which
	// it is rotated; RotateJitter is the fraction of the lifetime by which
	// each device rotates earlier, at random, so a fleet enrolled in one
	// day does not rotate in one minute. Zero means the default; a
	// negative RotateJitter disables jitter.
	RotateAt     float64 `json:"rotate_at,omitempty"`
	RotateJitter float64 `json:"rotate_jitter,omitempty"`

	// BackoffMin and BackoffMax bound the exponential backoff with jitter
	// between attempts to reach the broker or the provisioning service.
	BackoffMin Duration `json:"backoff_min,omitzero"`
	BackoffMax Duration `json:"backoff_max,omitzero"`
	// ConnectTimeout bounds one MQTT connection attempt (TCP, TLS,
	// CONNECT/CONNACK); KeepAlive is the MQTT keepalive.
	ConnectTimeout Duration `json:"connect_timeout,omitzero"`
	KeepAlive      Duration `json:"keepalive,omitzero"`
	// RequestTimeout bounds each enrollment or rotation step, TPM work
	// included.
	RequestTimeout Duration `json:"request_timeout,omitzero"`
	// ScheduleCheck is the longest the agent waits before looking at the
	// wall clock again: timers do not see clock jumps (NTP setting the
	// clock of a board without RTC after boot).
	ScheduleCheck Duration `json:"schedule_check,omitzero"`
	// TrustRefresh is how often the agent fetches the trust bundle from
	// the provisioning API (it also does after every rotation), so it
	// learns a new root during a root rollover.
	TrustRefresh Duration `json:"trust_refresh,omitzero"`
	// MaxQueued bounds the messages waiting for the broker; MaxInflight
	// bounds those sent but not yet acknowledged.
	MaxQueued   int `json:"max_queued,omitempty"`
	MaxInflight int `json:"max_inflight,omitempty"`

	// RootCAs replaces CAFile.
	RootCAs *x509.CertPool `json:"-"`
	// Token replaces TokenFile.
	Token string `json:"-"`
	// TPM replaces TPMPath: an open TPM the caller closes. Key-holding
	// operations of one agent are serialised; the caller must not use the
	// TPM concurrently through another agent unless it has a resource
	// manager.
	TPM transport.TPM `json:"-"`
	// StateStore replaces StateDir.
	StateStore StateStore `json:"-"`
	// GenerateKey makes software keys; nil means ECDSA P-256. The key
	// must be one x509.MarshalPKCS8PrivateKey accepts.
	GenerateKey func() (crypto.Signer, error) `json:"-"`
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger `json:"-"`
	// Hooks are told what happens.
	Hooks Hooks `json:"-"`
	// Now is the agent's clock; nil means time.Now. Certificates are
	// judged by it (rotation time, expiry).
	Now func() time.Time `json:"-"`
	// Rand draws the agent's random numbers, uniform in [0,1): backoff and
	// rotation jitter, and which of Brokers is tried first. nil means
	// math/rand/v2's Float64. It is called from the agent's own goroutine;
	// one shared by several agents must be safe for concurrent use.
	Rand func() float64 `json:"-"`
	// Shared, if set, is what this agent holds together with the other
	// agents of the process that were given the same Shared (see Shared):
	// for a process running many agents. nil: the agent holds its own.
	Shared *Shared `json:"-"`
	// MQTTOptions, if set, is called last on the paho options of every
	// session (dialer, buffer sizes, ...).
	MQTTOptions func(*mqtt.ClientOptions) `json:"-"`
}

// DefaultConfig returns a configuration with every default filled in; the
// caller sets at least DeviceID, ProvisioningURL, Broker (or Brokers), the
// CA and the key source.
func DefaultConfig() Config {
	return Config{
		TPMPath:        DefaultTPMPath,
		StatusTopic:    DefaultStatusTopic,
		RotateAt:       DefaultRotateAt,
		RotateJitter:   DefaultRotateJitter,
		BackoffMin:     Duration{DefaultBackoffMin},
		BackoffMax:     Duration{DefaultBackoffMax},
		ConnectTimeout: Duration{DefaultConnectTimeout},
		KeepAlive:      Duration{DefaultKeepAlive},
		RequestTimeout: Duration{DefaultRequestTimeout},
		ScheduleCheck:  Duration{DefaultScheduleCheck},
		TrustRefresh:   Duration{DefaultTrustRefresh},
		MaxQueued:      DefaultMaxQueued,
		MaxInflight:    DefaultMaxInflight,
	}
}

// withDefaults fills zero fields with their defaults, so a Config built
// by hand (the simulator) needs only what differs.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TPMPath == "" {
		c.TPMPath = d.TPMPath
	}
	if c.StatusTopic == "" {
		c.StatusTopic = d.StatusTopic
	}
	if c.RotateAt == 0 {
		c.RotateAt = d.RotateAt
	}
	switch { // zero is "unset"; a negative jitter asks for none
	case c.RotateJitter == 0:
		c.RotateJitter = d.RotateJitter
	case c.RotateJitter < 0:
		c.RotateJitter = 0
	}
	for _, p := range []struct{ v, def *Duration }{
		{&c.BackoffMin, &d.BackoffMin}, {&c.BackoffMax, &d.BackoffMax},
		{&c.ConnectTimeout, &d.ConnectTimeout}, {&c.KeepAlive, &d.KeepAlive},
		{&c.RequestTimeout, &d.RequestTimeout}, {&c.ScheduleCheck, &d.ScheduleCheck},
		{&c.TrustRefresh, &d.TrustRefresh},
	} {
		if p.v.Duration == 0 {
			*p.v = *p.def
		}
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = d.MaxQueued
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = d.MaxInflight
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// BrokerList returns the broker addresses the agent tries, in order:
// Brokers, or Broker alone.
func (c Config) BrokerList() []string {
	if len(c.Brokers) > 0 {
		return c.Brokers
	}
	if c.Broker == "" {
		return nil
	}
	return []string{c.Broker}
}

// SetBrokers replaces both Broker and Brokers with the comma-separated
// addresses in list: one address goes to Broker, several to Brokers. The
// environment and the flags set brokers through it, so a later layer
// replaces what an earlier one (the file) said, whichever field that used.
// Blanks around addresses are dropped; an empty entry is kept for
// Validate to report.
func (c *Config) SetBrokers(list string) {
	addrs := strings.Split(list, ",")
	for i := range addrs {
		addrs[i] = strings.TrimSpace(addrs[i])
	}
	if len(addrs) == 1 {
		c.Broker, c.Brokers = addrs[0], nil
		return
	}
	c.Broker, c.Brokers = "", addrs
}
