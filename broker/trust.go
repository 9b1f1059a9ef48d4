package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"
)

// trust holds the listener's TLS settings, which the operator may change
// while the broker runs: a new device CA pool after an intermediate
// rotation. Each handshake takes the settings current when its ClientHello
// arrives (tls.Config.GetConfigForClient); connections already up keep
// what they were admitted with, since TLS never looks at the pool again.
//
// Resumed TLS sessions follow the current pool too: crypto/tls resumes a
// session only if its verified chain still verifies against the ClientCAs
// of the config in use, so a device of a retired intermediate falls back to
// a full handshake and is refused there.
type trust struct {
	cfg     Config // the fixed settings; ClientCAs is ignored
	current atomic.Pointer[tls.Config]
	// base is the device CA pool last set; the handshakes trust it plus
	// the registered foreign CAs (foreign.go).
	base    atomic.Pointer[x509.CertPool]
	foreign *foreignTrust
}

func newTrust(cfg Config) *trust {
	t := &trust{cfg: cfg}
	t.set(cfg.ClientCAs)
	return t
}

// set makes pool the device CA pool of every handshake from now on.
func (t *trust) set(pool *x509.CertPool) {
	t.base.Store(pool)
	c := t.cfg.tlsConfig()
	c.ClientCAs = t.foreign.pool(pool)
	t.current.Store(c)
}

// listenerConfig is the config handed to tls.Server. It carries the whole
// policy (so that it is safe even where GetConfigForClient were skipped)
// and owns the session ticket keys, which the per-handshake configs share:
// a ticket issued under one pool can be presented under the next, and is
// then judged against the next pool.
func (t *trust) listenerConfig() *tls.Config {
	c := t.current.Load().Clone()
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return t.current.Load(), nil }
	return c
}

// SetClientCAs replaces the device CA pool for every TLS handshake from now
// on, for instance with ca.CA.DevicePool after an intermediate was rotated
// or retired. Connected devices are not touched: a device whose chain the
// new pool no longer accepts keeps its session until it disconnects, is
// revoked or its certificate expires. It may be called before or after
// Start, from any goroutine.
func (b *Broker) SetClientCAs(pool *x509.CertPool) error {
	if pool == nil {
		return fmt.Errorf("%w: ClientCAs is required (the device CA pool)", ErrConfig)
	}
	b.trust.set(pool)
	return nil
}

// SetHandshakeTimeout changes the deadline for the TLS handshake plus the
// first CONNECT. It applies to sockets accepted from now on; those already
// waiting keep the deadline they were given.
func (b *Broker) SetHandshakeTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: HandshakeTimeout %v must be positive", ErrConfig, d)
	}
	b.handshakeTimeout.Store(int64(d))
	return nil
}

// SetMaxPending changes how many accepted sockets may wait to
// authenticate. Lowering it closes nobody at once: each new socket beyond
// the limit evicts the oldest waiting one, and the rest meet their
// deadline.
func (b *Broker) SetMaxPending(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: MaxPending %d must be at least 1", ErrConfig, n)
	}
	b.pending.setMax(n)
	return nil
}

// handshakeDeadline is the current HandshakeTimeout.
func (b *Broker) handshakeDeadline() time.Duration {
	return time.Duration(b.handshakeTimeout.Load())
}
