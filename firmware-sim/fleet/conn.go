package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
)

// conns makes and tracks the devices' broker connections: paho calls
// open instead of dialling itself, so the simulator times the TLS
// handshake and the CONNECT apart, picks the source address, and can drop
// every connection at once.
type conns struct {
	m       *metrics
	dialers *host.Dialers

	mu   sync.Mutex
	live map[*simConn]struct{}
}

func newConns(m *metrics, dialers *host.Dialers) *conns {
	return &conns{m: m, dialers: dialers, live: make(map[*simConn]struct{})}
}

// open is a paho OpenConnectionFunc for device d: TCP from the next
// source address, then the TLS handshake with the agent's TLS settings
// (its certificate callback included), within the connect timeout.
func (cs *conns) open(d *device) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
		defer cancel()
		start := time.Now()
		raw, err := cs.dialers.Next().DialContext(ctx, "tcp", uri.Host)
		if err != nil {
			return nil, &phaseError{phase: "dial", err: err}
		}
		cfg := o.TLSConfig // the agent names the server: no copy per connection
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = uri.Hostname()
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, &phaseError{phase: "tls", err: err}
		}
		cs.m.tls.Add(time.Since(start))
		c := &simConn{Conn: tc, raw: raw, cs: cs, dev: d}
		cs.mu.Lock()
		cs.live[c] = struct{}{}
		cs.mu.Unlock()
		return c, nil
	}
}

// dropAll closes every live connection, as a network outage would, and
// returns how many it closed.
func (cs *conns) dropAll() int {
	cs.mu.Lock()
	victims := make([]*simConn, 0, len(cs.live))
	for c := range cs.live {
		victims = append(victims, c)
	}
	cs.mu.Unlock()
	for _, c := range victims {
		c.dev.stormDropped.Store(true)
		c.dropped.Store(true)
		// A reset, not a close_notify: the broker learns of it as of a
		// dead link, at once and without a goodbye.
		if tcp, ok := c.raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = c.raw.Close()
	}
	return len(victims)
}

// errDropped is the read error of a connection the storm dropped.
var errDropped = errors.New("firmware-sim: connection dropped by the storm")

// simConn is one device connection. It times CONNECT to CONNACK (the
// first write to the first read) and leaves the tracked set when closed.
type simConn struct {
	*tls.Conn
	raw net.Conn
	cs  *conns
	dev *device
	// dropped is set by dropAll. paho ignores a read error saying "use of
	// closed network connection", taking it for its own close, and would
	// notice the loss only at the next missed ping: a dropped connection
	// reports errDropped instead.
	dropped atomic.Bool

	firstWrite atomic.Int64 // unix nanoseconds
	readSeen   atomic.Bool
	closeOnce  sync.Once
}

func (c *simConn) Write(p []byte) (int, error) {
	if c.firstWrite.Load() == 0 {
		c.firstWrite.CompareAndSwap(0, time.Now().UnixNano())
	}
	return c.Conn.Write(p)
}

func (c *simConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.dropped.Load() {
		err = errDropped
	}
	if err != nil && err != errDropped {
		c.noteGoodbye()
	}
	if n > 0 && !c.readSeen.Load() && c.readSeen.CompareAndSwap(false, true) {
		if at := lastReceived(c.raw); !at.IsZero() {
			c.dev.connackHeard.Store(at.UnixNano())
		}
		if w := c.firstWrite.Load(); w != 0 {
			c.cs.m.connect.Add(time.Duration(time.Now().UnixNano() - w))
		}
	}
	return n, err
}

// noteGoodbye records, for OnDisconnected, when the broker's goodbye
// reached the kernel, if the broker ended the connection.
func (c *simConn) noteGoodbye() {
	if at := goodbyeHeard(c.raw); !at.IsZero() {
		c.dev.closeHeard.Store(at.UnixNano())
	}
}

// Close also notes the broker's goodbye: paho may close the connection
// after a failed write, before its reader has seen the goodbye (run 16 of
// bench-100k timed 7 drops by the simulator's clock that way).
func (c *simConn) Close() error {
	c.noteGoodbye()
	c.closeOnce.Do(func() {
		c.cs.mu.Lock()
		delete(c.cs.live, c)
		c.cs.mu.Unlock()
	})
	return c.Conn.Close()
}
