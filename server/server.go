package server

import (
	"context"
	"fmt"
	"github.com/fleetgate/fleetgate/bus"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
	"github.com/fleetgate/fleetgate/store"
)

// shutdownTimeout bounds how long Close waits for API requests in flight.
const shutdownTimeout = 5 * time.Second

// Server is a running fleetgate server: the broker, the provisioning API
// or both (by Role) over one registry, with the ops listener and the
// reload watcher.
type Server struct {
	cfg  Config
	log  *slog.Logger
	db   *store.DB
	keys *hsm.Token // the PKCS#11 token holding CA keys; nil when they are files
	rl   *reloader
	brk  *broker.Broker // nil for role api
	bus  *bus.Conn      // nil without a bus
	api  *http.Server   // nil for role broker
	ops  *http.Server   // nil when ops_addr is empty
	rev  *http.Server   // relying-party CRL and OCSP listener; nil when not run
	at   Endpoints

	cancel  context.CancelFunc // ends the background work
	stopped <-chan struct{}    // closed once Close has begun
	reloads chan reloadRequest
	ready   chan struct{}
	errc    chan error
	wg      sync.WaitGroup // background goroutines Close waits for

	closeOnce sync.Once
	closeErr  error
}

// Endpoints says where a started server serves, in the form the banner
// and the log show it.
type Endpoints struct {
	MQTT       string // host:port, or "not run (role api)"
	WSS        string // wss://host:port/mqtt, or "disabled"
	API        string // https://host:port, or "not run (role broker)"
	Ops        string // http://host:port, or "disabled"
	Revocation string // http://host:port of CRLs and OCSP, or "disabled"
	Registry   string // the bbolt file or the etcd URL
}

// Start validates cfg, opens the registry, loads or creates the CA under
// cfg.CADir() (or, for a broker, loads the bundle in cfg.BundleDir), starts the listeners the role asks for and the reload
// watcher, and returns once all of them accept. On any error it closes
// what it had opened and returns the error. The server lives until Close,
// or until ctx ends, which closes it the same way.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	log := cfg.Logger(level)
	applyGC(cfg, processGC(cfg.GCEnv), log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s := &Server{cfg: cfg, log: log, cancel: cancel, stopped: runCtx.Done(),
		reloads: make(chan reloadRequest), ready: make(chan struct{}), errc: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	// The registry lock comes first: a second server on the same data
	// directory must stop here, before it touches the CA files.
	if s.db, err = openRegistry(cfg, log.With("component", "registry")); err != nil {
		return nil, err
	}
	s.at.Registry = s.db.Path()

	// The digest is taken before the files are read, so that a change made
	// while the server starts is reloaded rather than missed.
	if s.keys, err = openKeys(cfg, log); err != nil {
		return nil, err
	}
	src := cfg.caSource(keyStore(s.keys))
	caFP := src.fingerprint()
	authority, err := openCA(cfg, src, log.With("component", "ca"))
	if err != nil {
		return nil, err
	}
	if authority, err = authority.WithPublicURL(cfg.PublicURL); err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	s.rl = &reloader{log: log.With("component", "reload"), level: level, src: src, pubURL: cfg.PublicURL, loadCfg: cfg.reread(), cfg: cfg,
		brk: notRun{}, api: notRun{}} // until the role's listeners start
	s.rl.authority.Store(authority)
	s.rl.interval.Store(int64(cfg.ReloadInterval.Duration))

	if err := s.startListeners(runCtx, authority); err != nil {
		return nil, err
	}
	s.goBackground(func() { s.rl.watch(runCtx, s.reloads, cfg.file, caFP, cfg.fileFP) })
	// The end of ctx closes the server; Close ends runCtx too, so this
	// goroutine never outlives the server.
	go func() {
		<-runCtx.Done()
		_ = s.Close()
	}()

	log.Info("fleetgate serving", "role", cfg.Role, "mqtt", s.at.MQTT, "wss", s.at.WSS, "api", s.at.API, "registry", s.at.Registry, "data", cfg.DataDir)
	close(s.ready)
	return s, nil
}

// reread is the configuration source a reload reads: Reread, or the
// configuration as started when there is none.
func (c Config) reread() func() (Config, error) {
	if c.Reread != nil {
		return c.Reread
	}
	return func() (Config, error) { return c, nil }
}

// goBackground runs fn in a goroutine that Close waits for.
func (s *Server) goBackground(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Ready is closed once every listener accepts; Start returns after that.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Err delivers at most one error that stopped part of the server while
// it ran (the API listener failing); the caller should then Close it.
func (s *Server) Err() <-chan error { return s.errc }

// Endpoints returns where the server serves.
func (s *Server) Endpoints() Endpoints { return s.at }

// Reload loads the CA directory and the configuration (through
// Config.Reread) again and applies what changed, without closing any
// connection. Each part that fails keeps its previous value and is logged;
// the error joins both parts' errors. trigger names the cause in the log
// ("sighup"). After Close it returns ErrClosed.
func (s *Server) Reload(trigger string) error {
	req := reloadRequest{trigger: trigger, done: make(chan error, 1)}
	select {
	case s.reloads <- req:
		return <-req.done
	case <-s.stopped:
		return ErrClosed
	}
}

// Close stops the listeners, waits up to five seconds for API requests in
// flight, disconnects every device and closes the registry. It is safe to
// call more than once; every call returns the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.ready:
			s.log.Info("shutting down")
		default: // Start failed: nothing was serving
		}
		s.cancel()
		if s.api != nil {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			_ = s.api.Shutdown(shutdownCtx)
			cancel()
		}
		if s.ops != nil {
			_ = s.ops.Close()
		}
		if s.rev != nil {
			_ = s.rev.Close()
		}
		if s.brk != nil {
			_ = s.brk.Close()
		}
		if s.bus != nil {
			s.bus.Close()
		}
		s.wg.Wait()
		if s.db != nil {
			s.closeErr = s.db.Close()
		}
		if s.keys != nil {
			_ = s.keys.Close()
		}
	})
	return s.closeErr
}
