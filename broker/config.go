package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAddr             = ":8883"
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxPacketSize    = 256 << 10
	DefaultMaxPending       = 1024
	// DefaultClientWritesPending bounds mochi's per-client outbound queue,
	// a channel of 8-byte slots allocated when the client connects: 1024
	// slots are 8 KiB per connection, mochi's own default (8192) 64 KiB.
	//
	// When the queue is full, mochi (v2.7, publishToClient) drops the
	// message, QoS 1 included: it takes it out of the inflight map, so it
	// is never sent again, not even on reconnect. Nothing upstream of the
	// queue bounds it for our devices. MaximumInflight (8192) only caps the
	// inflight map. The send quota (the client's Receive Maximum) exists
	// only for MQTT 5 clients that send one; MQTT 3.1.1 clients such as
	// the device agent (paho) get none. And where it applies, messages over
	// the quota wait in the inflight map and are released by a path that
	// forgets them (no quota back, no resend). So the queue itself must
	// hold the largest burst a subscriber can fall behind by: a device
	// flushing its outbox after a reconnect, or a backend subscribed to a
	// fleet's topics. 128 slots lost messages of a 400-message QoS 1 burst
	// under load (the agent's rotation test); 1024 held it.
	//
	// What 1024 costs against 128 is memory alone: 7 KiB of queue per idle
	// connection (make bench, 10,000 idle connections: 62-65 KiB against
	// 51 KiB). Neither meets the 40 KiB goal (firmware-sim/README.md says
	// where the rest goes). Connect and message rates do not move with the
	// size: BenchmarkConnect gives 0.93-0.94 of bare TLS with either, and
	// the bench's message clients never have more than 32 messages queued.
	// So the default stays at 1024, which keeps QoS 1 bursts.
	DefaultClientWritesPending = 1024
	// DefaultClientReadBufferSize and DefaultClientWriteBufferSize size
	// mochi's per-client bufio buffers (mochi's default is 2 KiB each).
	DefaultClientReadBufferSize  = 1024
	DefaultClientWriteBufferSize = 1024
)

// Config configures a Broker. Zero fields take the defaults above;
// GetCertificate and ClientCAs are required.
type Config struct {
	// Addr is the TCP address to listen on, "host:port". Tests use
	// "127.0.0.1:0" and read the bound address from Broker.Addr.
	Addr string

	// WSSAddr, when set, adds a listener for MQTT over secure WebSockets
	// (wss://host:port/mqtt, subprotocol "mqtt") with the same TLS
	// policy, admission checks, ACL, revocation, deadline and pending cap
	// as Addr (wss.go). Empty: no WebSocket listener.
	WSSAddr string

	// GetCertificate returns the server certificate for each handshake, so
	// that the certificate can be replaced without a restart.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	// ClientCAs holds the device intermediates only (the issuing one and
	// any older ones still trusted, ca.CA.DevicePool). Anything it verifies
	// is a candidate device; the registry decides the rest. SetClientCAs
	// replaces it while the broker runs.
	ClientCAs *x509.CertPool

	// HandshakeTimeout bounds the TLS handshake plus the wait for the first
	// CONNECT packet. A socket that has not sent CONNECT by then is closed.
	HandshakeTimeout time.Duration

	// MaxPacketSize is the largest MQTT packet accepted, fixed header
	// included. A packet whose header claims more is refused before any
	// buffer for it is allocated.
	MaxPacketSize uint32

	// MaxPending caps accepted connections that have not authenticated
	// yet; a new socket beyond it evicts the oldest pending one.
	MaxPending int

	// ClientWritesPending is mochi's per-client outbound queue length
	// (Capabilities.MaximumClientWritesPending).
	ClientWritesPending int

	// ClientReadBufferSize and ClientWriteBufferSize are mochi's per-client
	// buffer sizes (Options.ClientNetReadBufferSize and
	// ClientNetWriteBufferSize).
	ClientReadBufferSize, ClientWriteBufferSize int

	// Logger receives the broker's and mochi's logs. Nil discards them.
	Logger *slog.Logger

	// Metrics receives the broker's Prometheus metrics (NewMetrics). Nil
	// keeps them private.
	Metrics *Metrics

	// Bus, when set, joins the broker to the other brokers (route.go):
	// accepted messages go out on it, and messages of other brokers come
	// in for local subscribers. Nil: a broker on its own.
	Bus Bus

	// Retained, with Bus, keeps retained messages cluster-wide
	// (route_retain.go). Nil: each broker keeps its own.
	Retained RetainedStore

	// Limits bound each device's publish rate and subscriptions and each
	// source address's connection rate (limits.go). Zero: no limits.
	Limits Limits

	// throttleWait replaces maxThrottleWait when set: tests throttle a
	// device for longer than a test should ever take.
	throttleWait time.Duration
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.ClientWritesPending == 0 {
		c.ClientWritesPending = DefaultClientWritesPending
	}
	if c.ClientReadBufferSize == 0 {
		c.ClientReadBufferSize = DefaultClientReadBufferSize
	}
	if c.ClientWriteBufferSize == 0 {
		c.ClientWriteBufferSize = DefaultClientWriteBufferSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// minPacketSize is the smallest MaxPacketSize accepted: below it a device
// could not even send a CONNECT carrying its client ID and a Will.
const minPacketSize = 128

// Validate reports the first field that is missing or out of range. Zero
// fields are fine: they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.GetCertificate == nil:
		return fmt.Errorf("%w: GetCertificate is required (the server certificate source)", ErrConfig)
	case c.ClientCAs == nil:
		return fmt.Errorf("%w: ClientCAs is required (the device CA pool)", ErrConfig)
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("%w: HandshakeTimeout %v is negative", ErrConfig, c.HandshakeTimeout)
	case c.MaxPacketSize < minPacketSize:
		return fmt.Errorf("%w: MaxPacketSize %d is below %d bytes", ErrConfig, c.MaxPacketSize, minPacketSize)
	case c.MaxPending < 0:
		return fmt.Errorf("%w: MaxPending %d is negative", ErrConfig, c.MaxPending)
	case c.ClientWritesPending < 0 || c.ClientWritesPending > math.MaxInt32:
		return fmt.Errorf("%w: ClientWritesPending %d is out of range", ErrConfig, c.ClientWritesPending)
	case c.ClientReadBufferSize < 0:
		return fmt.Errorf("%w: ClientReadBufferSize %d is negative", ErrConfig, c.ClientReadBufferSize)
	case c.ClientWriteBufferSize < 0:
		return fmt.Errorf("%w: ClientWriteBufferSize %d is negative", ErrConfig, c.ClientWriteBufferSize)
	}
	return c.Limits.validate()
}
