package fleet

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of Config; see each field.
const (
	DefaultDevices         = 1000
	DefaultTokenBatch      = 1000
	DefaultConnectRate     = 500
	DefaultRamp            = 5 * time.Second
	DefaultMaxInflight     = 256
	DefaultPublishInterval = 10 * time.Second
	DefaultPayloadSize     = 64
	DefaultDuration        = 30 * time.Second
	DefaultSettle          = 3 * time.Second
	DefaultGroup           = "sim"
	minPayload             = 16 // send time and device index
)

// Target is the server to drive.
type Target struct {
	// Start runs `fleetgate serve` (ServerBin, next to this program, or
	// on PATH) with a temporary data directory for the run.
	Start     bool
	ServerBin string
	// ServerArgs are extra `fleetgate serve` flags; ServerEnv extra
	// environment (GOGC=...).
	ServerArgs []string
	ServerEnv  []string
	// Without Start: the running server's API URL, broker host:port, root
	// CA file, and an operator certificate for tokens and revocation.
	API, Broker, CAFile, AdminCert, AdminKey string
	// ServerPID, if set, lets the report read the broker's memory from
	// /proc; else OpsURL's /metrics is read, if set.
	ServerPID int
	OpsURL    string
}

// Config is a simulator run. Zero fields take the defaults above.
type Config struct {
	Target Target

	Devices    int    // N devices in all
	TPMDevices int    // K of them on swtpm (one swtpm process each)
	IDPrefix   string // device IDs are IDPrefix + index; empty: "sim-<random>-"
	Group      string // token group (TPM devices go to Group+"-tpm")
	TokenBatch int    // tokens per CreateTokens call

	ConnectRate float64       // devices started per second at full ramp
	Ramp        time.Duration // time from 10% to 100% of ConnectRate
	MaxInflight int           // devices enrolling or connecting at once
	SourceAddrs int           // 127.0.0.x source addresses; 0: enough for Devices
	SourceFirst int           // skip this many source addresses (another process uses them)

	PublishInterval time.Duration
	QoS             byte
	PayloadSize     int
	Duration        time.Duration // steady phase, events included
	Settle          time.Duration // idle wait before the memory reading

	Storm       bool    // drop every connection once, mid-run
	Rotate      int     // devices rotated under load
	RevokeShare float64 // share of devices revoked near the end

	// ExternalRevokeEvery marks every n-th device (Marked) as one that a
	// command outside the simulator revokes during the steady phase (a
	// coordinator's bulk revocation); ExternalRevoke delivers the moment
	// it starts, before 3/4 of Duration. With ExternalRevokeGroup the
	// marked devices enroll into that group (made to allow tokens), so
	// the command can name the group: it then holds exactly the marked
	// devices that enrolled.
	ExternalRevokeEvery int
	ExternalRevoke      <-chan struct{}
	ExternalRevokeGroup string

	// APIIdleClose relays the agents' provisioning connections and
	// closes them after this long idle (see relay); zero connects the
	// agents to the API directly. Default 2s; negative disables.
	APIIdleClose time.Duration

	// Agent settings for every device.
	BackoffMin, BackoffMax time.Duration
	ConnectTimeout         time.Duration
	KeepAlive              time.Duration
	// ConnectWait bounds the ramp: devices not connected by then count as
	// failed. Zero: three times the ideal ramp, at least a minute.
	ConnectWait time.Duration

	// ProfileDir, if set, receives heap and goroutine profiles of the
	// simulator (ProfileHeap, ProfileGoroutine) taken with every device
	// connected and idle, at the memory reading.
	ProfileDir string

	// KeepSamples puts the latency samples into the report, so the
	// reports of several processes can be merged (report.Merge).
	KeepSamples bool

	// ServerLog receives a started server's stderr; nil keeps only its
	// end, for error messages.
	ServerLog io.Writer
	// Logger receives the simulator's own logs and, at Debug, the
	// agents'. Nil discards them.
	Logger *slog.Logger
	// Progress receives live progress: bars when ProgressTTY, else one
	// status line every ProgressEvery. Nil shows none.
	Progress      io.Writer
	ProgressTTY   bool
	ProgressEvery time.Duration
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.Devices, DefaultDevices)
	set(&c.TokenBatch, DefaultTokenBatch)
	set(&c.MaxInflight, DefaultMaxInflight)
	set(&c.PayloadSize, DefaultPayloadSize)
	if c.ConnectRate == 0 {
		c.ConnectRate = DefaultConnectRate
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	setD(&c.Ramp, DefaultRamp)
	setD(&c.PublishInterval, DefaultPublishInterval)
	setD(&c.Duration, DefaultDuration)
	setD(&c.Settle, DefaultSettle)
	setD(&c.BackoffMin, time.Second)
	setD(&c.BackoffMax, 30*time.Second)
	setD(&c.ConnectTimeout, 30*time.Second)
	setD(&c.KeepAlive, 60*time.Second)
	setD(&c.ProgressEvery, 5*time.Second)
	switch {
	case c.APIIdleClose == 0:
		c.APIIdleClose = 2 * time.Second
	case c.APIIdleClose < 0:
		c.APIIdleClose = 0
	}
	if c.ConnectWait == 0 {
		ideal := time.Duration(float64(c.Devices)/c.ConnectRate*float64(time.Second)) + c.Ramp
		c.ConnectWait = max(3*ideal, time.Minute)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem at once, wrapped in ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	t := c.Target
	if !t.Start && (t.API == "" || t.Broker == "" || t.CAFile == "" || t.AdminCert == "" || t.AdminKey == "") {
		bad("without --start-server, --api, --broker, --ca, --admin-cert and --admin-key are required")
	}
	if c.Devices < 1 {
		bad("devices %d: want at least 1", c.Devices)
	}
	if c.TPMDevices < 0 || c.TPMDevices > c.Devices || c.TPMDevices > 64 {
		bad("tpm-devices %d: want 0 to min(devices, 64) (one swtpm process each)", c.TPMDevices)
	}
	if c.TokenBatch < 1 || c.TokenBatch > 100000 {
		bad("token-batch %d: want 1 to 100000", c.TokenBatch)
	}
	if c.ConnectRate <= 0 || c.MaxInflight < 1 {
		bad("connect-rate %v, max-inflight %d: must be positive", c.ConnectRate, c.MaxInflight)
	}
	if c.QoS > 1 {
		bad("qos %d: the agent publishes at QoS 0 or 1", c.QoS)
	}
	if c.PayloadSize < minPayload || c.PayloadSize > 128<<10 {
		bad("payload %d: want %d bytes (timestamp and index) to 128 KiB", c.PayloadSize, minPayload)
	}
	if c.PublishInterval < 10*time.Millisecond || c.Duration < time.Second || c.Ramp < 0 || c.Settle < 0 {
		bad("publish-interval %s (>= 10ms), duration %s (>= 1s), ramp %s, settle %s: out of range",
			c.PublishInterval, c.Duration, c.Ramp, c.Settle)
	}
	if c.RevokeShare < 0 || c.RevokeShare >= 1 {
		bad("revoke %v: want a share from 0 to below 1", c.RevokeShare)
	}
	if c.ExternalRevokeEvery < 0 || (c.ExternalRevokeEvery > 0 && (c.ExternalRevoke == nil || c.RevokeShare > 0)) {
		bad("external-revoke %d: want 0, or a positive count with a signal and without --revoke", c.ExternalRevokeEvery)
	}
	if c.Rotate < 0 || c.Rotate > c.Devices-c.TPMDevices {
		bad("rotate %d: want 0 to the number of software devices", c.Rotate)
	}
	if c.SourceAddrs < 0 || c.SourceFirst < 0 || c.SourceFirst+c.SourceAddrs > 250 {
		bad("source-addrs %d from %d: want 0 (automatic) to 250 in all", c.SourceAddrs, c.SourceFirst)
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		bad("backoff %s..%s: want 0 < min <= max", c.BackoffMin, c.BackoffMax)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}
