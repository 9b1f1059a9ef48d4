package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGCPercent is the garbage collector's target `fleetgate serve`
// runs with unless GOGC is set: the heap may grow to five times what is
// live before a collection. A broker's live heap is mostly long-lived
// per-connection state, while its garbage is per-message and per-handshake;
// at Go's default of 100 the collector runs so often under load that it
// costs ~35% of the message rate and ~10% of the connect rate on a 2-core
// machine (make bench). Idle memory is unchanged: the broker returns freed
// memory to the OS once a connect burst is over (broker/memory.go).
const DefaultGCPercent = 400

// minMemoryLimit is the smallest memory_limit accepted: below it the
// collector would run all the time.
const minMemoryLimit = 16 << 20

// ByteSize is a number of bytes written as GOMEMLIMIT is ("512MiB",
// "2GiB", or plain bytes); 0 means none.
type ByteSize int64

// byteUnits are the suffixes ParseByteSize accepts, as GOMEMLIMIT does.
var byteUnits = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseByteSize reads "512MiB", "2GiB", "1048576B" or "1048576". An empty
// string is 0.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, such as 512MiB", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// String writes the size in the largest unit that divides it.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return "0"
}

// Set parses a flag value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Type names the flag's value in the help text.
func (b *ByteSize) Type() string { return "size" }

// MarshalJSON writes the size as a string such as "2GiB".
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// UnmarshalJSON reads "2GiB" or a number of bytes.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var n int64
	if err := json.Unmarshal(data, &n); err == nil {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("size must be a string such as \"2GiB\" or a number of bytes: %w", err)
	}
	return b.Set(s)
}

// loadGCEnv applies FLEETGATE_GC_PERCENT and FLEETGATE_MEMORY_LIMIT when
// set.
func (c *Config) loadGCEnv(getenv func(string) string) error {
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

// validateGC checks gc_percent and memory_limit.
func (c Config) validateGC() []error {
	var errs []error
	switch {
	case c.GCPercent == -1 && c.MemoryLimit == 0:
		errs = append(errs, errors.New("gc_percent -1 (collector off) needs a memory_limit, or the heap grows without bound"))
	case c.GCPercent < -1 || c.GCPercent == 0:
		errs = append(errs, fmt.Errorf("gc_percent %d must be at least 1, or -1 (collector off, with a memory_limit)", c.GCPercent))
	}
	if c.MemoryLimit < 0 || (c.MemoryLimit > 0 && c.MemoryLimit < minMemoryLimit) {
		errs = append(errs, fmt.Errorf("memory_limit %s must be 0 (none) or at least %s", c.MemoryLimit, ByteSize(minMemoryLimit)))
	}
	return errs
}

// gcRuntime is where applyGC reads the environment and sets the
// collector: the process's own in serve, recorded calls in tests.
type gcRuntime struct {
	getenv     func(string) string
	setPercent func(int) int     // debug.SetGCPercent
	setLimit   func(int64) int64 // debug.SetMemoryLimit
}

// processGC is the running process's environment and collector.
var processGC = gcRuntime{getenv: os.Getenv, setPercent: debug.SetGCPercent, setLimit: debug.SetMemoryLimit}

// applyGC sets the collector from gc_percent and memory_limit, once at
// start. The GOGC and GOMEMLIMIT environment variables, when set, take
// precedence: the Go runtime has applied them already and they stand. A
// memory limit is set only when one is configured.
func applyGC(cfg Config, rt gcRuntime, log *slog.Logger) {
	percent, percentFrom := strconv.Itoa(cfg.GCPercent), "config"
	if v := rt.getenv("GOGC"); v != "" {
		percent, percentFrom = v, "GOGC"
	} else {
		rt.setPercent(cfg.GCPercent)
	}
	limit, limitFrom := "none", "default"
	if v := rt.getenv("GOMEMLIMIT"); v != "" {
		limit, limitFrom = v, "GOMEMLIMIT"
	} else if cfg.MemoryLimit > 0 {
		rt.setLimit(int64(cfg.MemoryLimit))
		limit, limitFrom = cfg.MemoryLimit.String(), "config"
	}
	log.Info("garbage collector", "gc_percent", percent, "gc_percent_from", percentFrom,
		"memory_limit", limit, "memory_limit_from", limitFrom)
}
