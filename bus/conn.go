package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Message headers set on every message a Conn publishes.
const (
	HeaderOrigin = "Fg-Origin" // instance ID of the publishing broker
	HeaderID     = "Fg-Id"     // message ID, unique per message
)

// flushTimeout bounds the wait for the server to confirm a subscription.
const flushTimeout = time.Second

// ErrTooLarge marks a message over the NATS server's payload limit; it is
// not published.
var ErrTooLarge = errors.New("message over the NATS max payload")

// ErrURL marks a bus URL list that cannot be used.
var ErrURL = errors.New("invalid bus URL")

// Options configure a Conn.
type Options struct {
	// URLs is a comma-separated list of NATS servers, nats://host:port.
	URLs string
	// TLS, when set, is the client TLS configuration for NATS.
	TLS *tls.Config
	// Origin names this broker instance in HeaderOrigin.
	Origin string
	// Logger receives connection events. Nil discards them.
	Logger *slog.Logger
	// Retention is how long durable messages and session records are
	// kept (the longest a device may stay away and still get its
	// messages); 0 means DefaultRetention.
	Retention time.Duration
	// Replicas of the stream and the session bucket; 0 means as many as
	// the cluster has, up to three.
	Replicas int
	// PublishTimeout bounds the wait for the stream to store a durable
	// message (a publisher's PUBACK waits as long at most); 0 means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// ParseURLs checks a comma-separated list of nats:// or tls:// URLs.
func ParseURLs(raw string) ([]string, error) {
	var urls []string
	for _, u := range strings.Split(raw, ",") {
		u = strings.TrimSpace(u)
		scheme, host, ok := strings.Cut(u, "://")
		if !ok || (scheme != "nats" && scheme != "tls") || host == "" || strings.ContainsAny(host, "/ ") {
			return nil, fmt.Errorf("%w: %q: want nats://HOST:PORT[,nats://HOST:PORT...]", ErrURL, u)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// Conn is a broker's connection to the bus. It reconnects by itself for
// as long as it is open; messages published while it is disconnected are
// buffered by the NATS client up to its limit, then lost.
type Conn struct {
	nc     *nats.Conn
	origin string
	log    *slog.Logger
	out    outMsgs // Publish's messages, reused

	// The durable path (stream.go, session.go, replay.go).
	js             jetstream.JetStream
	retention      time.Duration
	replicas       int
	publishTimeout time.Duration
	jsMu           sync.Mutex
	sessions       jetstream.KeyValue // set once the stream and bucket exist
	reconnected    *atomic.Pointer[func()]

	dispatch  *dispatcher // runs the handlers of Subscribe (dispatch.go)
	closeOnce sync.Once
}

// Dial connects to the bus. It returns at once even when no server is
// reachable yet: the client keeps trying in the background.
func Dial(o Options) (*Conn, error) {
	urls, err := ParseURLs(o.URLs)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reconnected := new(atomic.Pointer[func()])
	opts := []nats.Option{
		nats.Name("fleetgate " + o.Origin),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("bus connected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("bus reconnected", "server", nc.ConnectedUrlRedacted())
			if fn := reconnected.Load(); fn != nil {
				go (*fn)()
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("bus unreachable; messages to other brokers are lost until it is back", "error", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			log.Warn("bus error", "subject", subjectOf(s), "error", err)
		}),
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", o.URLs, err)
	}
	timeout := o.PublishTimeout
	if timeout <= 0 {
		timeout = DefaultPublishTimeout
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(timeout), jetstream.WithPublishAsyncMaxPending(maxPendingStores))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus %s: jetstream: %w", o.URLs, err)
	}
	c := &Conn{nc: nc, origin: o.Origin, log: log, js: js, retention: o.Retention, replicas: o.Replicas,
		publishTimeout: timeout, reconnected: reconnected, dispatch: newDispatcher()}
	go c.dispatch.run()
	if c.retention <= 0 {
		c.retention = DefaultRetention
	}
	return c, nil
}

func subjectOf(s *nats.Subscription) string {
	if s == nil {
		return ""
	}
	return s.Subject
}

// Connected reports whether the connection to a NATS server is up.
func (c *Conn) Connected() bool { return c.nc.IsConnected() }

// Publish sends a message on topic's subject with the origin and a new
// message ID. A message over the server's max payload is refused with
// ErrTooLarge.
func (c *Conn) Publish(topic string, payload []byte) error {
	if err := c.checkSize(topic, payload); err != nil {
		return err
	}
	om := c.out.get(c.origin, Subject(topic), payload, nuid.Next())
	err := c.nc.PublishMsg(om.m)
	c.out.put(om)
	if err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return err
	}
	return nil
}

// Delivery is one message from the bus.
type Delivery struct {
	Topic   string
	Payload []byte
	ID      string
	Origin  string
	// Seq is the stream sequence of a durable message (QoS 1); 0 for
	// QoS 0.
	Seq uint64
	QoS byte
}

// Subscribe subscribes to an MQTT filter, or to a shared subscription
// "$share/<group>/<filter>" as a NATS queue group, and calls fn for every
// message. On a plain filter, messages of this Conn's own origin are
// skipped. The returned function ends the subscription. fn runs on the
// Conn's one dispatch goroutine (dispatch.go), one message at a time
// across all subscriptions: it must not wait for another message.
func (c *Conn) Subscribe(filter string, fn func(Delivery)) (func() error, error) {
	group, inner, shared := SplitShare(filter)
	subjects, err := FilterSubjects(inner)
	if err != nil {
		return nil, err
	}
	handle := func(m *nats.Msg) {
		origin := m.Header.Get(HeaderOrigin)
		if !shared && origin == c.origin {
			return
		}
		topic, err := Topic(m.Subject)
		if err != nil {
			c.log.Debug("bus message on a foreign subject", "subject", m.Subject)
			return
		}
		d := Delivery{Topic: topic, Payload: m.Data, ID: m.Header.Get(HeaderID), Origin: origin}
		if s := m.Header.Get(HeaderSeq); s != "" { // absent on QoS 0: no parse error to build
			if seq, err := strconv.ParseUint(s, 10, 64); err == nil && seq > 0 {
				d.Seq, d.QoS = seq, 1
			}
		}
		fn(d)
	}
	var subs []*nats.Subscription
	unsubscribe := func() error {
		var errs []error
		for _, s := range subs {
			errs = append(errs, c.dispatch.unsubscribe(s))
		}
		return errors.Join(errs...)
	}
	for _, subj := range subjects {
		s, err := c.dispatch.subscribe(func(ch chan *nats.Msg) (*nats.Subscription, error) {
			if shared {
				return c.nc.ChanQueueSubscribe(subj, QueueName(group, inner), ch)
			}
			return c.nc.ChanSubscribe(subj, ch)
		}, handle)
		if err != nil {
			_ = unsubscribe()
			return nil, fmt.Errorf("bus subscribe %s: %w", filter, err)
		}
		subs = append(subs, s)
	}
	// Wait for the server to hold the subscription, so that a client's
	// SUBACK means messages published from now on reach it (across a
	// NATS cluster, routes carry it a moment later).
	if c.nc.IsConnected() {
		if err := c.nc.FlushTimeout(flushTimeout); err != nil {
			c.log.Debug("bus subscription not confirmed", "filter", filter, "error", err)
		}
	}
	return unsubscribe, nil
}

// OnReconnect makes fn run (in its own goroutine) each time the
// connection comes back after a loss: what was published meanwhile did not
// reach this Conn's subscriptions.
func (c *Conn) OnReconnect(fn func()) { c.reconnected.Store(&fn) }

// Flush waits until the NATS server has processed everything sent so far,
// subscriptions included.
func (c *Conn) Flush() error { return c.nc.Flush() }

// Close drains nothing and closes the connection.
func (c *Conn) Close() {
	c.nc.Close()
	c.closeOnce.Do(func() { close(c.dispatch.done) })
}

// Retention is how long the stream keeps a durable message and the bucket
// a session record that is not written again.
func (c *Conn) Retention() time.Duration { return c.retention }
