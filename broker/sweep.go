package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errMochiLoop: mochi's event loop is not laid out as sweeper expects
// (another mochi version), so its per-client loops keep running.
var errMochiLoop = errors.New("mochi's housekeeping tickers not found")

// sysTopicInterval is mochi's $SYS resend interval, in seconds: once a
// day, since nobody can read them (Config.options).
const sysTopicInterval = 24 * 60 * 60

// mochiSweeps are the tickers of mochi's event loop (v2.7, server.go
// eventLoop) whose work goes over every client or retained message once
// a second: clearExpiredClients and clearExpiredInflights each copy the
// whole client map (Clients.GetAll), the second sorts every client's
// inflight messages with sort.Slice, which allocates even when there are
// none, and clearExpiredRetainedMessages copies every retained message.
// At 10,000 idle devices that is ~2 MB of garbage a second and ~3% of a
// core for nothing (firmware-sim/README.md, "Idle devices").
var mochiSweeps = []string{"clientExpiry", "inflightExpiry", "retainedExpiry"}

// sweeper does the work of mochiSweeps instead of mochi, on events and
// without allocating while nothing happens. mochi's Options cannot turn
// those loops off, so the broker stops their tickers (stopMochiSweeps)
// and:
//
//   - expires a disconnected persistent session with a timer set when it
//     disconnects, to when mochi would have expired it; a new connection
//     with the client ID cancels it;
//   - once a second while mochi counts inflight messages (and once a
//     minute regardless), drops expired inflight messages of the clients
//     that have any, found through the broker's own session index (every mochi
//     client of the broker has a session there), without copying it;
//   - expires a retained message with a timer set when it is retained, to
//     when mochi would have expired it (retain.go).
type sweeper struct {
	mqtt.HookBase
	server   *mqtt.Server
	sessions *sessions
	expired  func(*mqtt.Client) // the broker hook's OnClientExpired
	log      *slog.Logger

	mu       sync.Mutex
	timers   map[string]*expiryTimer   // by client ID
	retained map[string]*retainedTimer // by topic

	busy []*mqtt.Client // clients with inflight messages; reused every pass
}

// expiryTimer expires one disconnected client.
type expiryTimer struct {
	cl *mqtt.Client
	t  *time.Timer
}

var _ mqtt.Hook = (*sweeper)(nil)

func newSweeper(server *mqtt.Server, ss *sessions, expired func(*mqtt.Client), log *slog.Logger) *sweeper {
	return &sweeper{server: server, sessions: ss, expired: expired, log: log, timers: make(map[string]*expiryTimer),
		retained: make(map[string]*retainedTimer)}
}

// ID names the hook in mochi's logs.
func (w *sweeper) ID() string { return "fleetgate-sweeper" }

// Provides declares the session events the sweeper follows; it decides
// nothing about who connects or what they may do.
func (w *sweeper) Provides(b byte) bool {
	return b == mqtt.OnDisconnect || b == mqtt.OnSessionEstablished || b == mqtt.OnRetainMessage
}

// stopMochiSweeps stops mochi's mochiSweeps tickers. It reaches into
// mochi's unexported event loop, so it checks the layout and leaves
// mochi's loops alone (errMochiLoop) when it is not the expected one;
// TestSweeperStopsMochiLoops pins it to the mochi version in go.mod.
func stopMochiSweeps(s *mqtt.Server) error {
	loop := reflect.ValueOf(s).Elem().FieldByName("loop")
	if loop.Kind() != reflect.Pointer || loop.IsNil() || loop.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: no loop", errMochiLoop)
	}
	tickers := make([]*time.Ticker, 0, len(mochiSweeps))
	for _, name := range mochiSweeps {
		f := loop.Elem().FieldByName(name)
		if !f.IsValid() || f.Type() != reflect.TypeFor[*time.Ticker]() || f.IsNil() {
			return fmt.Errorf("%w: no %s", errMochiLoop, name)
		}
		tickers = append(tickers, (*time.Ticker)(f.UnsafePointer()))
	}
	for _, t := range tickers {
		t.Stop() // mochi's select never hears from it again
	}
	return nil
}

// OnSessionEstablished cancels the expiry of the client ID's previous,
// disconnected session: the new client took it over or replaced it.
func (w *sweeper) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.timers[cl.ID]; e != nil && e.cl != cl {
		e.t.Stop()
		delete(w.timers, cl.ID)
	}
}

// OnDisconnect arms the expiry of a session mochi keeps (expire false),
// unless it never expires (mochi's default for MQTT 3.1.1).
func (w *sweeper) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if expire || cl.IsTakenOver() {
		return
	}
	if cur, ok := w.server.Clients.Get(cl.ID); !ok || cur != cl {
		return // another client has the ID now: this one never expires on its own
	}
	after := w.expiry(cl)
	if after >= math.MaxUint32 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.timers[cl.ID]; e != nil {
		e.t.Stop()
	}
	e := &expiryTimer{cl: cl}
	e.t = time.AfterFunc(time.Duration(after+1)*time.Second, func() { w.expire(e) })
	w.timers[cl.ID] = e
}

// expiry is mochi's session expiry interval for cl, in seconds.
func (w *sweeper) expiry(cl *mqtt.Client) int64 {
	expire := int64(w.server.Options.Capabilities.MaximumSessionExpiryInterval)
	if cl.Properties.ProtocolVersion == 5 && cl.Properties.Props.SessionExpiryIntervalFlag {
		expire = int64(cl.Properties.Props.SessionExpiryInterval)
	}
	return expire
}

// expire does what mochi's clearExpiredClients does for one client: once
// it has been disconnected for its expiry interval and is still the
// client of its ID, the broker forgets its session and mochi the client.
func (w *sweeper) expire(e *expiryTimer) {
	cl := e.cl
	w.mu.Lock()
	if w.timers[cl.ID] != e {
		w.mu.Unlock()
		return // replaced or cancelled meanwhile
	}
	stopped := cl.StopTime()
	if left := stopped + w.expiry(cl) - time.Now().Unix(); stopped != 0 && left >= 0 {
		e.t.Reset(time.Duration(left+1) * time.Second) // mochi expires strictly after the interval
		w.mu.Unlock()
		return
	}
	delete(w.timers, cl.ID)
	w.mu.Unlock()
	if cur, ok := w.server.Clients.Get(cl.ID); !ok || cur != cl || stopped == 0 {
		return // reconnected, or already gone
	}
	w.expired(cl)
	w.server.Clients.Delete(cl.ID) // [MQTT-4.1.0-2]
	w.log.Debug("persistent session expired", "client", cl.ID)
}

// fullSweepEvery is how often the inflight pass runs even when mochi's
// count of inflight messages says there are none: a safety net should
// the count drift, cheap at that rate.
const fullSweepEvery = 60

// run drops expired inflight messages once a second, as mochi's
// inflightExpiry loop does, until ctx ends: only while mochi counts any
// inflight message, and once a minute regardless. A pass touches every
// session (~0.5 µs each, cold in the cache), so an idle broker skips it.
func (w *sweeper) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if atomic.LoadInt64(&w.server.Info.Inflight) != 0 || n%fullSweepEvery == 0 {
				w.sweepInflight(now.Unix())
			}
		}
	}
}

// sweepInflight expires inflight messages of the clients that have any.
// The scan takes the index's read lock and allocates nothing; the clients
// found are handled after it is released.
func (w *sweeper) sweepInflight(now int64) {
	w.sessions.mu.RLock()
	for cl := range w.sessions.m {
		if cl.State.Inflight.Len() > 0 {
			w.busy = append(w.busy, cl)
		}
	}
	w.sessions.mu.RUnlock()
	maxExpiry := w.server.Options.Capabilities.MaximumMessageExpiryInterval
	for _, cl := range w.busy {
		cl.ClearExpiredInflights(now, maxExpiry) // calls the OnQosDropped hooks
	}
	clear(w.busy)
	w.busy = w.busy[:0]
}
