package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Row groups for Config.Rows.
const (
	RowConnects = "connects" // connects/s and p99 connect latency
	RowMessages = "messages" // QoS 0 and QoS 1 messages/s
	RowMemory   = "memory"   // memory per idle connection
)

var (
	contenderNames = []string{NameFleetgate, NameBare, NameMochi, NameMosquitto}
	rowNames       = []string{RowConnects, RowMessages, RowMemory}
)

// runs reports whether the contender named runs in this configuration.
func (c Config) runs(name string) bool {
	return name == NameFleetgate || len(c.Contenders) == 0 || slices.Contains(c.Contenders, name)
}

// measures reports whether the row group is measured.
func (c Config) measures(row string) bool { return len(c.Rows) == 0 || slices.Contains(c.Rows, row) }

// DefaultIdleHold is how long the memory row holds its idle connections
// before it reads the steady state: long enough for a broker that makes
// garbage while idle to show it (the heap grows until the collector runs).
const DefaultIdleHold = 2 * time.Minute

// fleetgateGCPercent is server.DefaultGCPercent, the collector target
// fleetgate serves with: the bench gives it to every Go contender unless
// --gogc says otherwise, so that no ratio compares GC settings.
const fleetgateGCPercent = "400"

// Config is one bench run. Zero fields take the defaults.
type Config struct {
	ServerBin      string        // fleetgate binary (see launch.Find)
	Mosquitto      string        // mosquitto binary; "" finds /usr/sbin/mosquitto or PATH; "-" skips it
	Rounds         int           // alternating rounds (default 5)
	Round          time.Duration // each measurement per round (default 3s)
	ConnectClients int           // concurrent connect loops (default 4)
	MessageClients int           // clients publishing to themselves (default 8)
	Window         int           // messages in flight per client (default 32)
	Payload        int           // bytes (default 64)
	Idle           int           // idle connections for the memory row (default 10000)
	Settle         time.Duration // wait before each memory reading (default 10s)
	IdleHold       time.Duration // how long the idle connections are held before the steady-state reading (default 2m)
	ProfileDir     string        // where fleetgate's idle allocation and heap profiles go; "" for none
	GOGC           string        // GOGC of every Go server ("": fleetgate's gc_percent, 400, for all of them)
	FleetgateEnv   []string      // extra environment for fleetgate only (GOGC=100: Go's default instead of serve's 400)
	Log            io.Writer     // progress lines; nil: none
	// TargetCommand runs TargetMain in a child process: its argv before
	// TargetMain's arguments. Empty: this executable's `bench-target`.
	TargetCommand []string
	// TargetEnv is added to the children's environment with it.
	TargetEnv []string
	// Contenders are the servers to run: fleetgate (which always runs),
	// bare-tls, mochi, mosquitto. Empty: all of them.
	Contenders []string
	// Rows are the measurements to take: connects (connects/s and p99),
	// messages (QoS 0 and 1) and memory (idle connections). Empty: all.
	Rows []string
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Rounds, 5)
	def(&c.ConnectClients, 4)
	def(&c.MessageClients, 8)
	def(&c.Window, 32)
	def(&c.Payload, 64)
	def(&c.Idle, 10000)
	if c.Round == 0 {
		c.Round = 3 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	if c.GOGC == "" {
		c.GOGC = fleetgateGCPercent
	}
	if c.IdleHold == 0 {
		c.IdleHold = DefaultIdleHold
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate reports every problem at once, wrapped in ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Rounds < 1 || c.Round < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("rounds %d, round %s: want >= 1 and >= 100ms", c.Rounds, c.Round))
	}
	if c.ConnectClients < 1 || c.MessageClients < 1 || c.Window < 1 || c.Window > 10000 {
		errs = append(errs, fmt.Errorf("connect-clients %d, message-clients %d, window %d: out of range", c.ConnectClients, c.MessageClients, c.Window))
	}
	if c.Payload < 1 || c.Payload > 64<<10 {
		errs = append(errs, fmt.Errorf("payload %d: want 1 to 65536", c.Payload))
	}
	if c.Settle < 0 || c.IdleHold < time.Second {
		errs = append(errs, fmt.Errorf("settle %s, idle-hold %s: want >= 0 and >= 1s", c.Settle, c.IdleHold))
	}
	if c.Idle < c.ConnectClients+c.MessageClients {
		errs = append(errs, fmt.Errorf("idle %d: want at least connect-clients + message-clients (the devices enrolled)", c.Idle))
	}
	for _, n := range c.Contenders {
		if !slices.Contains(contenderNames, n) {
			errs = append(errs, fmt.Errorf("contender %q: want some of %s (fleetgate always runs)", n, strings.Join(contenderNames, ", ")))
		}
	}
	for _, r := range c.Rows {
		if !slices.Contains(rowNames, r) {
			errs = append(errs, fmt.Errorf("row %q: want some of %s", r, strings.Join(rowNames, ", ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}
