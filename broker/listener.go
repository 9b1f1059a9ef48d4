package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listenerID names the broker's TCP listener inside mochi; wssListenerID
// (wss.go) names the WebSocket one.
const listenerID = "mtls"

// listener is the broker's mochi listener. mochi's own TCP listener wraps
// tls.Listen, whose handshake runs lazily and without a deadline, and hands
// over any socket; this one:
//
//   - keeps at most MaxPending connections waiting to authenticate; a new
//     one evicts the oldest waiting socket (see pendingSet);
//   - sets a deadline of HandshakeTimeout at accept, covering the TLS
//     handshake and the wait for CONNECT. mochi replaces it by the keepalive
//     deadline (cl.refreshDeadline) only after the CONNECT has been read and
//     the hook's OnConnect has accepted it, so a socket that stalls before
//     that is closed at the deadline;
//   - runs the handshake itself, so a failed handshake never reaches mochi.
type listener struct {
	id, protocol string
	addr         string
	// ws, on the WSS listener only, upgrades each connection to a
	// WebSocket after the TLS handshake, under the same deadline and
	// pending slot (wss.go).
	ws      *wsUpgrader
	tlsConf *tls.Config
	timeout func() time.Duration // read at each accept: it may change
	log     *slog.Logger

	pending  *pendingSet    // connections not yet authenticated
	sources  *sourceLimiter // new connections per source address; nil: no limit
	metrics  *Metrics
	refusals *refusalBuffer // refused handshakes, for the refusal log

	ctx    context.Context // cancelled by Close: aborts handshakes
	cancel context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	closed   bool
	handlers sync.WaitGroup // one per handle goroutine; added under mu
}

var _ listeners.Listener = (*listener)(nil)

func newListener(addr string, tlsConf *tls.Config, timeout func() time.Duration, pending *pendingSet, log *slog.Logger) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	return &listener{
		id:       listenerID,
		protocol: "mqtts",
		addr:     addr,
		tlsConf:  tlsConf,
		timeout:  timeout,
		log:      log,
		pending:  pending,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*conn]struct{}),
	}
}

// ID returns the listener's name inside mochi.
func (l *listener) ID() string { return l.id }

// Protocol names the listener's protocol for mochi's logs.
func (l *listener) Protocol() string { return l.protocol }

// Address returns the bound address once Init has run.
func (l *listener) Address() string {
	if a := l.boundAddr(); a != nil {
		return a.String()
	}
	return l.addr
}

// boundAddr returns the bound address, or nil before Init (or for a nil
// listener: the WSS one when it is off).
func (l *listener) boundAddr() net.Addr {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Init binds the TCP socket; mochi calls it from AddListener, so a taken
// port fails Start.
func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("%w on %s: %w", ErrListen, l.addr, err)
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	return nil
}

// Serve accepts connections until Close. Each one gets its own goroutine
// for the handshake and, through establish, for its whole MQTT life.
func (l *listener) Serve(establish listeners.EstablishFn) {
	var backoff time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, instead of spinning or giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !l.sources.allow(raw.RemoteAddr()) {
			l.refuseSource(raw)
			continue
		}
		tc := tls.Server(raw, l.tlsConf)
		c := &conn{Conn: tc, tls: tc, l: l}
		if l.ws != nil {
			c.Conn = &wsStream{Conn: tc}
		}
		if victim := l.pending.add(c); victim != nil {
			l.metrics.evictions.Inc()
			l.log.Debug("oldest pending connection evicted", "remote", victim.RemoteAddr().String(), "reason", "max_pending")
			_ = victim.Close()
		}
		if !l.startHandler() {
			_ = c.Close()
			return
		}
		go l.handle(c, raw, establish)
	}
}

// startHandler counts a new handle goroutine, unless the listener is
// closed. Counting under mu orders every Add before Close's Wait.
func (l *listener) startHandler() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.handlers.Add(1)
	return true
}

// handle runs the handshake on one accepted socket and passes it to mochi.
func (l *listener) handle(c *conn, raw net.Conn, establish listeners.EstablishFn) {
	defer l.handlers.Done()
	if !l.track(c) {
		_ = c.Close()
		return
	}
	defer c.Close()
	remote := raw.RemoteAddr().String()
	if err := raw.SetDeadline(time.Now().Add(l.timeout())); err != nil {
		return
	}
	start := time.Now()
	if err := c.tls.HandshakeContext(l.ctx); err != nil {
		reason, level := handshakeReason(err)
		l.metrics.handshake(start, reason)
		l.log.Log(context.Background(), level, "tls handshake failed", "remote", remote, "reason", reason, "error", err.Error())
		l.noteHandshake(err, remote)
		return
	}
	l.metrics.handshake(start, "")
	if s, ok := c.Conn.(*wsStream); ok {
		if err := l.ws.upgrade(s); err != nil {
			l.log.Debug("websocket upgrade failed", "remote", remote, "error", err.Error())
			return
		}
	}
	if err := establish(l.id, c); err != nil {
		l.log.Debug("connection ended", "remote", remote, "error", err.Error())
	}
}

// handshakeReason sorts a handshake error into a stable reason and a log
// level: sockets that time out or hang up are routine (scanners, dead
// links); a certificate the verifier refused is worth an Info line.
func handshakeReason(err error) (string, slog.Level) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout", slog.LevelDebug
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "closed", slog.LevelDebug
	case errors.Is(err, context.Canceled):
		return "shutdown", slog.LevelDebug
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "bad_certificate", slog.LevelInfo
	}
	return "tls", slog.LevelInfo
}

// track records c so that Close can reach it; false once closed.
func (l *listener) track(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

// untrack forgets c (called by c.Close).
func (l *listener) untrack(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// pendingCount is the number of accepted connections not yet
// authenticated.
func (l *listener) pendingCount() int { return l.pending.len() }

// shutdownWriteTimeout bounds the DISCONNECT write to each client at
// shutdown, so that a client that stopped reading cannot hold it up.
const shutdownWriteTimeout = time.Second

// Close stops accepting, lets mochi say goodbye to its clients, then closes
// every connection still open, including those still in the handshake or
// waiting for CONNECT, which mochi does not know about. It returns once no
// connection can reach mochi any more: mochi waits for its clients right
// after, and a client arriving during that wait would upset it.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	ln := l.ln
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()

	if ln != nil {
		_ = ln.Close()
	}
	l.cancel()
	for _, c := range conns {
		_ = c.SetWriteDeadline(time.Now().Add(shutdownWriteTimeout))
	}
	closeClients(l.id)
	for _, c := range conns {
		_ = c.Close()
	}
	l.handlers.Wait()
}
