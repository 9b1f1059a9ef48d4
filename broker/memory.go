package broker

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Defaults of the idle memory release.
const (
	// DefaultReleaseQuiet is how long no session may start or end before
	// the broker counts as idle after a burst.
	DefaultReleaseQuiet = 2 * time.Second
	// DefaultReleaseMinChurn is how many sessions must have started or
	// ended since the last release for another to be worth a full GC.
	DefaultReleaseMinChurn = 100
	// IdleGCPercent is the collector target while the broker is quiet
	// (idle.go): Go's default, against serve's 400 under load.
	IdleGCPercent = 100
	// IdleGCAfter is how long the broker must be quiet before it collects
	// at IdleGCPercent: long enough that the pauses between bursts of
	// ordinary work (a benchmark's rounds, a reconnect wave) keep 400.
	IdleGCAfter = time.Minute
)

// memoryRelease returns to the operating system the memory a burst of
// connections left behind, once the broker has gone quiet.
//
// A connect burst (a fleet coming online, a reconnect storm) allocates
// handshake buffers, certificate parsing and packet garbage for every
// device at once; the Go runtime keeps the freed pages for reuse and gives
// them back only slowly (the scavenger), so an idle broker holding 10,000
// devices sits well above what it uses. debug.FreeOSMemory forces a GC and
// returns the free pages at once; it costs a full collection, so it runs
// once after a burst, when nothing has connected or disconnected for
// quiet, never on a timer while a storm is still going on.
//
// While the broker is quiet it also collects at a lower target (idleGC,
// idle.go).
//
// It is a mochi hook that counts session starts and ends (it provides no
// authentication or ACL event, so it cannot let anyone in) plus a loop
// that looks at that count.
type memoryRelease struct {
	mqtt.HookBase
	quiet    time.Duration
	minChurn uint64
	free     func() // debug.FreeOSMemory; tests count calls instead
	log      *slog.Logger
	// messages counts the PUBLISH packets received and sent (mochi's
	// Info); nil: none. Lots of them keep the broker busy.
	messages func() uint64
	gc       idleGC
	gcQuiet  time.Duration // quiet before the lower target (IdleGCAfter)

	churn    atomic.Uint64 // sessions started or ended
	released atomic.Uint64 // releases done
}

var _ mqtt.Hook = (*memoryRelease)(nil)

// newMemoryRelease returns a release with the defaults for zero values.
func newMemoryRelease(quiet time.Duration, minChurn uint64, log *slog.Logger) *memoryRelease {
	if quiet <= 0 {
		quiet = DefaultReleaseQuiet
	}
	if minChurn == 0 {
		minChurn = DefaultReleaseMinChurn
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &memoryRelease{quiet: quiet, minChurn: minChurn, free: debug.FreeOSMemory, log: log,
		messages: func() uint64 { return 0 }, gc: idleGC{set: debug.SetGCPercent, idle: IdleGCPercent}, gcQuiet: IdleGCAfter}
}

// ID names the hook in mochi's logs.
func (m *memoryRelease) ID() string { return "fleetgate-memory-release" }

// Provides declares the two events the hook counts, and nothing else.
func (m *memoryRelease) Provides(b byte) bool {
	return b == mqtt.OnSessionEstablished || b == mqtt.OnDisconnect
}

// OnSessionEstablished counts a session start.
func (m *memoryRelease) OnSessionEstablished(*mqtt.Client, packets.Packet) { m.churn.Add(1) }

// OnDisconnect counts a session end.
func (m *memoryRelease) OnDisconnect(*mqtt.Client, error, bool) { m.churn.Add(1) }

// run checks the churn and message counts every quiet/4 until ctx ends.
// Once neither moved for quiet, it releases memory when at least minChurn
// sessions came or went since the last release; once neither moved for
// gcQuiet, it lowers the collector's target (idleGC); the first move puts
// the target back. A check
// is two atomic loads, so the loop costs nothing during a storm.
func (m *memoryRelease) run(ctx context.Context) {
	tick := time.NewTicker(max(m.quiet/4, time.Millisecond))
	defer tick.Stop()
	m.loop(ctx, tick.C)
}

// loop is run's body with the clock as a channel of ticks.
func (m *memoryRelease) loop(ctx context.Context, ticks <-chan time.Time) {
	var seen, atRelease, msgs uint64
	var quietSince time.Time
	defer m.gc.busy()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			if quietSince.IsZero() {
				quietSince = now
			}
			c, n := m.churn.Load(), m.messages()
			// A trickle of messages (telemetry, a few per second) is idle;
			// minChurn of them per tick is load.
			if c != seen || n-msgs >= m.minChurn {
				seen, msgs, quietSince = c, n, now
				m.gc.busy()
				continue
			}
			msgs = n
			quietFor := now.Sub(quietSince)
			if quietFor >= m.gcQuiet {
				m.gc.quiet()
			}
			if quietFor < m.quiet || c-atRelease < m.minChurn {
				continue
			}
			atRelease = c
			start := time.Now()
			m.free()
			m.released.Add(1)
			m.log.Debug("returned freed memory to the OS after a connection burst",
				"sessions_changed", c, "took", time.Since(start))
		}
	}
}
