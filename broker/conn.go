package broker

import (
	"container/list"
	"crypto/tls"
	"net"
	"sync"
)

// conn is a device connection as handed to mochi. It carries the TLS
// connection, so ConnectionState stays reachable whatever the transport,
// and adds what the listener and the hook need: the pre-authentication
// slot it holds, and work to run once it is closed (mochi closes it in
// every exit path, hooks or not).
type conn struct {
	// Conn is what mochi reads and writes: the *tls.Conn itself, or on
	// the WSS listener the WebSocket stream over it (wsstream.go).
	net.Conn
	tls *tls.Conn
	l   *listener

	releaseOnce sync.Once
	closeOnce   sync.Once

	pendingElem *list.Element // in l.pending while not authenticated; guarded by l.pending.mu

	mu      sync.Mutex
	closed  bool
	onClose []func()
}

// ConnectionState is the TLS state the admission checks read (decide.go),
// the same for both listeners.
func (c *conn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// authenticated frees the connection's pre-authentication slot. Close
// frees it too, so calling both is fine.
func (c *conn) authenticated() {
	c.releaseOnce.Do(func() { c.l.pending.remove(c) })
}

// afterClose runs f once the connection is closed, or now if it already
// is.
func (c *conn) afterClose(f func()) {
	c.mu.Lock()
	if !c.closed {
		c.onClose = append(c.onClose, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// Close closes the connection, frees its slot and runs the afterClose
// work. It is safe to call from several goroutines.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.authenticated()
		c.l.untrack(c)
		c.mu.Lock()
		c.closed = true
		fs := c.onClose
		c.onClose = nil
		c.mu.Unlock()
		for _, f := range fs {
			f()
		}
	})
	return err
}
