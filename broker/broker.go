package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/fleetgate/fleetgate/store"
)

// Registry is what the broker needs from the device registry. *store.DB
// implements it.
type Registry interface {
	// Lookup returns a device and one of its certificates by device ID and
	// serial (lower-case hex); store.ErrNotFound when either is unknown.
	Lookup(ctx context.Context, deviceID, serial string) (store.Device, store.Certificate, error)
	// Watch returns a never-lossy feed of status changes, closed when ctx
	// is done.
	Watch(ctx context.Context) <-chan store.Change
}

var _ Registry = (*store.DB)(nil)

// Broker is an MQTT broker that admits only registered devices over mutual
// TLS. Create it with New, then Start it once; Close stops it.
type Broker struct {
	cfg      Config
	reg      Registry
	log      *slog.Logger
	sessions *sessions
	seen     *seenLog // lastseen.go

	// Settings that may change while the broker runs (trust.go).
	trust            *trust
	handshakeTimeout atomic.Int64 // nanoseconds
	pending          *pendingSet

	mu       sync.Mutex
	started  bool
	server   *mqtt.Server
	hook     *hook
	router   *router        // nil without a durable bus
	follower store.Follower // nil when the registry counts no brokers
	listener *listener
	wss      *listener // nil without Config.WSSAddr
	cancel   context.CancelFunc

	closeOnce sync.Once
	done      chan struct{}
}

// New checks cfg (after applying defaults) and returns a broker that is not
// serving yet.
func New(cfg Config, reg Registry) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, fmt.Errorf("%w: a Registry is required", ErrConfig)
	}
	b := &Broker{
		cfg:      cfg,
		reg:      reg,
		log:      cfg.Logger,
		sessions: newSessions(),
		seen:     &seenLog{},
		trust:    newTrust(cfg),
		pending:  newPendingSet(cfg.MaxPending),
		done:     make(chan struct{}),
	}
	b.trust.foreign = newForeignTrust(reg)
	b.handshakeTimeout.Store(int64(cfg.HandshakeTimeout))
	return b, nil
}

// tlsConfig is the listener's TLS policy: a client certificate chaining to
// the device CA pool is mandatory. The broker serves it per handshake
// through trust, so that the pool can be replaced. Curve preferences stay
// Go's default, which picks the hybrid X25519MLKEM768 with Go peers.
func (c Config) tlsConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: c.GetCertificate,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      c.ClientCAs,
		MinVersion:     tls.VersionTLS12,
	}
}

// options are mochi's settings for the broker.
func (c Config) options() *mqtt.Options {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = c.MaxPacketSize
	caps.MaximumClientWritesPending = int32(c.ClientWritesPending)
	return &mqtt.Options{
		Capabilities:             caps,
		ClientNetReadBufferSize:  c.ClientReadBufferSize,
		ClientNetWriteBufferSize: c.ClientWriteBufferSize,
		Logger:                   c.Logger,
		InlineClient:             false, // nothing inside the process publishes past the ACL
		// No device may subscribe to $SYS (acl.go refuses topics that start
		// with $), so mochi's $SYS updates go nowhere: mochi would build them
		// every second (runtime.ReadMemStats included).
		SysTopicResendInterval: sysTopicInterval,
	}
}

// Start subscribes to the registry's change feed, binds the listener and
// serves in the background. It returns once the socket is listening, or an
// error (wrapping ErrListen when the address is taken). ctx bounds the
// broker's life: when it is done the broker closes, as it does if the
// change feed ends, because it could no longer revoke sessions in time.
// A Broker starts once: after a failed Start, create a new one.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return ErrStarted
	}
	b.started = true

	// Subscribe before accepting anyone, so that no change can slip
	// between a device's lookup and the watcher.
	wctx, cancel := context.WithCancel(ctx)
	changes := b.reg.Watch(wctx)

	server := mqtt.New(b.cfg.options())
	m := b.cfg.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &hook{ctx: wctx, server: server, reg: b.reg, sessions: b.sessions, seen: b.seen, log: b.log, now: time.Now, metrics: m, changes: newChangeClock(),
		owner: newOwner(), claims: make(chan struct{}, maxClaims), foreignCAs: b.trust.foreign, limits: b.cfg.Limits,
		connectRate: newConnectLimiter(), throttleWait: cmp.Or(b.cfg.throttleWait, maxThrottleWait)}
	h.events = newEvents(server, h.owner, b.log)
	if err := b.startForeign(wctx); err != nil {
		cancel()
		return err
	}
	l := newListener(b.cfg.Addr, b.trust.listenerConfig(), b.handshakeDeadline, b.pending, b.log)
	l.metrics, l.sources = m, newSourceLimiter(b.cfg.Limits)
	// Set before the listener serves: refusals are recorded from the first
	// connection on.
	h.refusals = newRefusalBuffer(b.reg, l.Address, b.log)
	l.refusals = h.refusals
	go h.refusals.run(wctx)
	if err := server.AddHook(h, nil); err != nil {
		cancel()
		_ = server.Close()
		return fmt.Errorf("add broker hook: %w", err)
	}
	if b.cfg.Bus != nil {
		rt := newRouter(server, b.cfg.Bus, h.OnACLCheck, b.cfg.Retained, b.log.With("component", "bus"), m)
		if err := server.AddHook(rt, nil); err != nil {
			cancel()
			_ = server.Close()
			return fmt.Errorf("add bus hook: %w", err)
		}
		rt.start(wctx) // retained messages are in before anyone subscribes
		if rt.enableDurable(wctx, h.owner, h.OnACLCheck) {
			go rt.runCheckpoints(wctx)
			rt.watchGaps()
			b.router = rt
		}
	}
	// Gives the memory a connect burst left behind back to the OS once the
	// broker is quiet; it only counts sessions, it admits no one.
	release := newMemoryRelease(0, 0, b.log)
	release.messages = func() uint64 {
		return uint64(atomic.LoadInt64(&server.Info.MessagesReceived) + atomic.LoadInt64(&server.Info.MessagesSent))
	}
	if err := server.AddHook(release, nil); err != nil {
		cancel()
		_ = server.Close()
		return fmt.Errorf("add memory release hook: %w", err)
	}
	go release.run(wctx)
	// mochi's once-a-second loops over every client, done on events
	// instead (sweep.go).
	if err := stopMochiSweeps(server); err != nil {
		b.log.Warn("mochi's per-client loops keep running: idle devices cost garbage and CPU", "error", err.Error())
	} else {
		sweep := newSweeper(server, b.sessions, h.OnClientExpired, b.log)
		if err := server.AddHook(sweep, nil); err != nil {
			cancel()
			_ = server.Close()
			return fmt.Errorf("add sweeper hook: %w", err)
		}
		go sweep.run(wctx)
	}
	if err := server.AddListener(l); err != nil {
		cancel()
		_ = server.Close()
		return err
	}
	var wss *listener
	if b.cfg.WSSAddr != "" {
		wss = newWSSListener(b.cfg.WSSAddr, b.trust.listenerConfig(), b.handshakeDeadline, b.pending, b.cfg.MaxPacketSize, b.log)
		wss.metrics = m
		if err := server.AddListener(wss); err != nil {
			cancel()
			_ = server.Close()
			return err
		}
	}
	// Counted from before the first device is admitted: every change
	// committed so far is in force here, as no one is.
	if e, ok := b.reg.(enforcer); ok {
		b.follower = e.Follow(h.owner)
	}
	if err := server.Serve(); err != nil {
		cancel()
		_ = server.Close()
		if b.follower != nil {
			b.follower.Leave()
		}
		return fmt.Errorf("start mochi: %w", err)
	}
	b.server, b.hook, b.listener, b.wss, b.cancel = server, h, l, wss, cancel
	m.bind(func() float64 { return float64(atomic.LoadInt64(&server.Info.ClientsConnected)) },
		func() float64 { return float64(l.pendingCount()) })
	go b.watch(wctx, changes)
	if wss != nil {
		b.log.Info("broker listening", "addr", l.Address(), "wss_addr", wss.Address())
	} else {
		b.log.Info("broker listening", "addr", l.Address())
	}
	return nil
}

// WSSAddr returns the bound address of the WSS listener, or nil before
// Start or without Config.WSSAddr.
func (b *Broker) WSSAddr() net.Addr {
	b.mu.Lock()
	l := b.wss
	b.mu.Unlock()
	return l.boundAddr()
}

// Addr returns the bound address, or nil before Start.
func (b *Broker) Addr() net.Addr {
	b.mu.Lock()
	l := b.listener
	b.mu.Unlock()
	return l.boundAddr()
}

// Connected reports whether a session with that client ID is attached to
// a live connection right now.
func (b *Broker) Connected(deviceID string) bool {
	b.mu.Lock()
	server := b.server
	b.mu.Unlock()
	if server == nil {
		return false
	}
	cl, ok := server.Clients.Get(deviceID)
	return ok && !cl.Closed()
}

// Done is closed once the broker has stopped serving, whether through
// Close, the end of Start's context, or the loss of the change feed.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Close stops accepting, disconnects every client and stops the change
// feed. It waits for mochi's client goroutines and is safe to call more
// than once; later calls return nil at once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.started = true // a closed broker cannot be started
		server, cancel, follower := b.server, b.cancel, b.follower
		b.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		if server != nil {
			_ = server.Close()
		}
		if follower != nil {
			follower.Leave() // a broker that stopped holds no session
		}
		for _, s := range b.sessions.all() {
			b.sessions.remove(s)
		}
		close(b.done)
	})
	return nil
}
