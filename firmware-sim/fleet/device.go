package fleet

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// dataTopic is the suffix every device publishes to and subscribes to:
// the broker delivers each message back to its sender, which is how the
// end-to-end latency is measured without a second client per device.
const dataTopic = "sim/data"

// pingTimeout is how long a simulated device waits for its PINGRESP
// before it takes its session for lost (paho's default: 10 s). paho
// judges it by when its reading goroutine handled the answer, and a
// simulator sharing a loaded host runs that goroutine late: in bench-100k
// run 15 the processes' status lines came 12-40 s late, and 30,653
// sessions were given up as "pingresp not received"; each came back as a
// handshake, loading the brokers further (run 16, with a minute and the
// agent's backoff: 10,384). A device on its own hardware
// keeps paho's default.
const pingTimeout = time.Minute

// device is one simulated device: an agent and what the simulator knows
// about it.
type device struct {
	idx   int
	id    string
	token string        // software devices
	tpm   transport.TPM // TPM devices
	state *agent.MemoryState
	agent *agent.Agent

	started  time.Time
	stop     context.CancelFunc // stops the agent; set before it starts
	done     chan struct{}      // closed when Run returned
	runErr   error              // Run's result, read after done
	inflight atomic.Bool        // holds a ramp slot

	up           atomic.Bool  // a session is up
	ever         atomic.Bool  // reached a first session
	serial       atomic.Value // string: serial of the last session
	stormDropped atomic.Bool  // the next loss is the storm's
	revokedAt    atomic.Int64 // unix ns of the revoke call; 0 if not revoked
	dropSeen     atomic.Bool  // the drop after the revocation was counted
	droppedAt    atomic.Int64 // unix ns of that drop, as its kernel heard it where known
	noticedAt    atomic.Int64 // unix ns the simulator noticed that drop
	// closeHeard is when the kernel received the last data of the
	// connection that just ended (lastReceived), for OnDisconnected.
	closeHeard atomic.Int64
	// connackHeard is, on the first read of a connection, when the kernel
	// last received data: the CONNACK, or shortly after it; for
	// OnConnected, which a loaded simulator runs late.
	connackHeard atomic.Int64
	rot          atomic.Pointer[rotation]
}

// rotation is a device's rotation in progress: done is closed once a
// session is up with the new certificate.
type rotation struct {
	want string
	once sync.Once
	done chan struct{}
}

// reached closes done once.
func (r *rotation) reached() { r.once.Do(func() { close(r.done) }) }

// newAgent builds the device's agent with the simulator's hooks and
// connection maker.
func (s *sim) newAgent(d *device) (*agent.Agent, error) {
	cfg := agent.Config{
		DeviceID:        d.id,
		ProvisioningURL: s.agentAPI,
		Broker:          s.broker,
		RootCAs:         s.roots,
		KeySource:       agent.KeySoftware,
		Token:           d.token,
		StateStore:      d.state,
		Shared:          s.shared,
		Subscribe:       []string{dataTopic},
		BackoffMin:      agent.Duration{Duration: s.cfg.BackoffMin},
		BackoffMax:      agent.Duration{Duration: s.cfg.BackoffMax},
		ConnectTimeout:  agent.Duration{Duration: s.cfg.ConnectTimeout},
		KeepAlive:       agent.Duration{Duration: s.cfg.KeepAlive},
		Logger:          s.agentLog,
		Hooks:           s.hooks(d),
		MQTTOptions: func(o *mqtt.ClientOptions) {
			o.SetCustomOpenConnectionFn(s.conns.open(d))
			o.SetPingTimeout(pingTimeout)
		},
	}
	if d.tpm != nil {
		cfg.KeySource, cfg.Token, cfg.TPM = agent.KeyTPM, "", d.tpm
	}
	return agent.New(cfg)
}

// hooks count what the agent of d does.
func (s *sim) hooks(d *device) agent.Hooks {
	m := s.m
	return agent.Hooks{
		OnEnrolled: func(c agent.Credentials) {
			m.enroll.Add(time.Since(d.started))
			m.enrolled.Add(1)
			if c.Attestation == agent.KeyTPM {
				m.tpmEnrolled.Add(1)
			}
		},
		OnConnectAttempt: func(int) { m.attempts.Add(1) },
		OnConnected: func(serial string) {
			now := time.Now()
			d.serial.Store(serial)
			d.up.Store(true)
			m.sessionUp(now)
			d.closeHeard.Store(0) // a goodbye noted before belongs to an earlier connection
			if heard := d.connackHeard.Swap(0); d.revokedAt.Load() != 0 {
				at := now.UnixNano()
				if heard > 0 && heard < at {
					at = heard // the session began by then
				}
				s.revokedBack.Add(1)
				s.backMu.Lock()
				s.backAt = append(s.backAt, at)
				s.backMu.Unlock()
			}
			if !d.ever.Swap(true) {
				m.firstConnected.Add(1)
				s.lastFirst.Store(now.UnixNano())
				s.releaseSlot(d)
			}
			if r := d.rot.Load(); r != nil && r.want == serial {
				r.reached()
			}
			s.stormBack(d)
		},
		OnDisconnected: func(err error) {
			now := time.Now()
			heard := d.closeHeard.Swap(0)
			wasUp := d.up.Swap(false)
			if wasUp {
				m.sessionDown(now)
			}
			switch {
			case err == nil:
				return
			case wasUp && d.stormDropped.Swap(false):
				m.errs.Inc(kindStormDrop)
			case wasUp && d.revokedAt.Load() != 0:
				m.errs.Inc(kindRevoked)
			case wasUp:
				m.errs.Inc("session lost: " + errClass(err))
			case d.revokedAt.Load() != 0:
				m.failedAttempts.Add(1)
				m.errs.Inc(connectKind(err) + " (revoked: expected)")
			default:
				m.failedAttempts.Add(1)
				m.errs.Inc(connectKind(err))
			}
			if wasUp && d.revokedAt.Load() != 0 && !d.dropSeen.Swap(true) {
				m.revokeDelay.Add(time.Duration(now.UnixNano() - d.revokedAt.Load()))
				at := now.UnixNano()
				if heard > 0 && heard < at {
					at = heard // the broker's goodbye reached the kernel then
				}
				d.droppedAt.Store(at)
				d.noticedAt.Store(now.UnixNano())
				s.drops.add()
			}
		},
		OnPublished: func(string) {
			m.acked.Add(1)
			m.sent.Inc(time.Now())
		},
		OnMessage: func(_ string, payload []byte) {
			if len(payload) < minPayload {
				return
			}
			now := time.Now()
			sent := int64(binary.BigEndian.Uint64(payload))
			m.e2e.Add(time.Duration(now.UnixNano() - sent))
			m.recv.Add(1)
			m.received.Inc(now)
		},
	}
}

// run runs the agent until ctx ends and records how it ended.
func (s *sim) run(ctx context.Context, d *device) {
	defer close(d.done)
	defer s.releaseSlot(d)
	d.started = time.Now()
	err := d.agent.Run(ctx)
	d.runErr = err
	switch {
	case err == nil:
	case errors.Is(err, agent.ErrRevoked) && d.revokedAt.Load() != 0:
		s.m.errs.Inc(kindRunRevoked)
	default:
		s.m.errs.Inc("agent stopped: " + agentErrName(err))
	}
}

// agentErrName names an agent's final error by its sentinel.
func agentErrName(err error) string {
	for _, e := range []error{agent.ErrRevoked, agent.ErrNeedsEnrollment, agent.ErrRefused, agent.ErrState, agent.ErrClock, agent.ErrConfig} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + errClass(err)
}

// isRevokedStop reports whether d's agent has stopped because the broker
// refused it as revoked.
func isRevokedStop(d *device) bool {
	select {
	case <-d.done:
		return errors.Is(d.runErr, agent.ErrRevoked)
	default:
		return false
	}
}
