package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// Agent is one device: it enrolls, keeps one MQTT session and rotates its
// certificate. Create it with New and drive it with Run; Publish and
// Rotate may be called from any goroutine.
type Agent struct {
	cfg   Config
	ep    atomic.Pointer[endpoints] // replaced when a trust bundle brings new roots
	store StateStore                // nil: a StateDir opened by Run
	out   *outbox

	running   atomic.Bool
	cur       atomic.Pointer[creds]
	served    atomic.Pointer[creds]  // what the last MQTT handshake presented
	broker    atomic.Pointer[string] // the session's broker; nil or "" while down
	rotateReq chan chan error
	trustReq  chan chan error
}

// New checks cfg (see Config.Validate), fills its defaults and returns an
// agent. It reads CAFile but touches neither the TPM nor the state: Run
// does.
func New(cfg Config) (*Agent, error) {
	// Validate applies the defaults to its own copy; applying them here
	// once more would turn a disabled jitter (negative, then zero) back
	// into the default.
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	roots := cfg.RootCAs
	if roots == nil {
		pemBytes, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ca_file: %w", ErrConfig, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%w: ca_file %s holds no PEM certificate", ErrConfig, cfg.CAFile)
		}
	}
	a := &Agent{cfg: cfg, store: cfg.StateStore, rotateReq: make(chan chan error), trustReq: make(chan chan error)}
	if a.store == nil && cfg.StateDir == "" {
		a.store = &MemoryState{}
	}
	a.setRoots(roots)
	a.out = newOutbox(cfg.MaxQueued, cfg.Hooks.OnPublished)
	return a, nil
}

// Publish queues payload for devices/<id>/<suffix> at QoS 0 or 1. It does
// not wait for the broker: the message is sent as soon as a session is up
// and, at QoS 1, kept until the broker acknowledged it, across reconnects
// and certificate rotations (Hooks.OnPublished reports it). Messages still
// queued when Run returns are lost with the process.
func (a *Agent) Publish(suffix string, qos byte, payload []byte) error {
	if qos > 1 {
		return fmt.Errorf("%w: QoS %d (the agent sends QoS 0 or 1)", ErrTopic, qos)
	}
	if err := checkSuffix(suffix, false); err != nil {
		return fmt.Errorf("%w: %w", ErrTopic, err)
	}
	return a.out.add(&message{topic: a.topic(suffix), qos: qos, payload: bytes.Clone(payload)})
}

// Queued returns the number of published messages the broker has not
// acknowledged yet.
func (a *Agent) Queued() int { return a.out.len() }

// Rotate rotates the certificate now, whatever the schedule says, and moves
// the session to the new one. It returns when the rotation succeeded or
// failed; it waits while Run is still enrolling. ErrNotRunning: Run is not
// running.
func (a *Agent) Rotate(ctx context.Context) error {
	return a.request(ctx, a.rotateReq)
}

// request hands the running session loop a request on ch and waits for
// its answer.
func (a *Agent) request(ctx context.Context, ch chan chan error) error {
	if !a.running.Load() {
		return ErrNotRunning
	}
	done := make(chan error, 1)
	select {
	case ch <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Credentials returns the certificate the agent holds, if any.
func (a *Agent) Credentials() (Credentials, bool) {
	c := a.cur.Load()
	if c == nil {
		return Credentials{}, false
	}
	return c.info, true
}

// Connected reports whether an MQTT session is up.
func (a *Agent) Connected() bool { return a.Broker() != "" }

// Broker returns the address (one of Config.BrokerList) of the broker the
// MQTT session is on, or "" while there is no session.
func (a *Agent) Broker() string {
	if p := a.broker.Load(); p != nil {
		return *p
	}
	return ""
}

// setBroker records the broker of the session that came up, or "" when
// it ended.
func (a *Agent) setBroker(addr string) { a.broker.Store(&addr) }

// topic is the full topic of a suffix in the device's namespace.
func (a *Agent) topic(suffix string) string { return "devices/" + a.cfg.DeviceID + "/" + suffix }

// mqttCertificate hands the broker the current certificate; a rotated one
// is used from the next handshake on, without rebuilding anything.
func (a *Agent) mqttCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	c := a.cur.Load()
	if c == nil {
		return &tls.Certificate{}, nil // no certificate: the broker refuses
	}
	a.served.Store(c)
	return c.tls, nil
}

// apiCertificate is mqttCertificate for the rotation calls.
func (a *Agent) apiCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := a.cur.Load(); c != nil {
		return c.tls, nil
	}
	return &tls.Certificate{}, nil
}

// Run enrolls if needed, then keeps the MQTT session up and the certificate
// fresh until ctx ends (nil: a clean stop, with "offline" published) or
// the device cannot go on: ErrRevoked (refused by the broker, no
// reconnect loop), ErrNeedsEnrollment, ErrRefused, ErrClock, ErrState, or
// a TPM error.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer a.running.Store(false)
	r, done, err := a.start()
	if err != nil {
		return err
	}
	defer done()
	err = r.run(ctx)
	if errors.Is(err, errStopped) {
		err = nil
	}
	a.cur.Store(nil)
	return err
}

// start opens the state and the key source, loads the state and the
// trust it holds, and returns the runner over them and what closes them.
// Run and Enrol share it.
func (a *Agent) start() (*runner, func(), error) {
	var closers []func() error
	done := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
	store := a.store
	if store == nil {
		d, err := OpenStateDir(a.cfg.StateDir)
		if err != nil {
			return nil, done, err
		}
		closers = append(closers, d.Close)
		store = d
	}
	keys, err := a.openKeys()
	if err != nil {
		done()
		return nil, func() {}, err
	}
	closers = append(closers, keys.close)
	st, err := store.Load()
	if err == nil && st != nil && (st.DeviceID != a.cfg.DeviceID || st.KeySource != a.cfg.KeySource) {
		err = fmt.Errorf("%w: the state belongs to device %q with %s keys, not %q with %s keys",
			ErrState, st.DeviceID, st.KeySource, a.cfg.DeviceID, a.cfg.KeySource)
	}
	r := &runner{a: a, cfg: a.cfg, log: a.cfg.Logger.With("device", a.cfg.DeviceID), store: store, keys: keys, st: st}
	if err == nil {
		err = r.loadTrust()
	}
	if err != nil {
		done()
		return nil, func() {}, err
	}
	r.pickBroker()
	return r, done, nil
}

// openKeys returns the configured key source.
func (a *Agent) openKeys() (keySource, error) {
	if a.cfg.KeySource == KeyTPM {
		k, err := openTPMKeys(a.cfg, a.cfg.Logger.With("device", a.cfg.DeviceID))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoTPM, err)
		}
		return k, nil
	}
	return newSoftwareKeys(a.cfg), nil
}

// errStopped ends a run because its context ended: a clean stop.
var errStopped = errors.New("agent: stopped")

var _ io.Closer = (*StateDir)(nil)
