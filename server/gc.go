package server

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
)

// DefaultGCPercent is the garbage collector's target a server runs with
// unless GOGC is set: the heap may grow to five times what is live before
// a collection. A broker's live heap is mostly long-lived per-connection
// state, while its garbage is per-message and per-handshake; at Go's
// default of 100 the collector runs so often under load that it costs
// ~35% of the message rate and ~10% of the connect rate on a 2-core
// machine (make bench). Idle memory is unchanged: the broker returns freed
// memory to the OS once a connect burst is over (broker/memory.go).
const DefaultGCPercent = 400

// minMemoryLimit is the smallest memory_limit accepted: below it the
// collector would run all the time.
const minMemoryLimit = 16 << 20

// GCEnv holds the GOGC and GOMEMLIMIT environment variables as the
// process saw them ("" when unset). The Go runtime applied them before
// main ran, so a set one stands over gc_percent or memory_limit.
type GCEnv struct {
	GOGC       string
	GOMEMLIMIT string
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

// gcRuntime is where applyGC sets the collector: the process's own in
// Start, recorded calls in tests.
type gcRuntime struct {
	env        GCEnv
	setPercent func(int) int     // debug.SetGCPercent
	setLimit   func(int64) int64 // debug.SetMemoryLimit
}

// processGC is the running process's collector, with env as the process
// saw it.
func processGC(env GCEnv) gcRuntime {
	return gcRuntime{env: env, setPercent: debug.SetGCPercent, setLimit: debug.SetMemoryLimit}
}

// applyGC sets the collector from gc_percent and memory_limit, once at
// start. GOGC and GOMEMLIMIT, when set, take precedence: the Go runtime
// has applied them already and they stand. A memory limit is set only when
// one is configured.
func applyGC(cfg Config, rt gcRuntime, log *slog.Logger) {
	percent, percentFrom := strconv.Itoa(cfg.GCPercent), "config"
	if v := rt.env.GOGC; v != "" {
		percent, percentFrom = v, "GOGC"
	} else {
		rt.setPercent(cfg.GCPercent)
	}
	limit, limitFrom := "none", "default"
	if v := rt.env.GOMEMLIMIT; v != "" {
		limit, limitFrom = v, "GOMEMLIMIT"
	} else if cfg.MemoryLimit > 0 {
		rt.setLimit(int64(cfg.MemoryLimit))
		limit, limitFrom = cfg.MemoryLimit.String(), "config"
	}
	log.Info("garbage collector", "gc_percent", percent, "gc_percent_from", percentFrom,
		"memory_limit", limit, "memory_limit_from", limitFrom)
}
