package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// wait is how long a test waits for an event: generous, so a loaded
// machine is slow, not failing.
const wait = 60 * time.Second

// events records what an agent's hooks report, on channels a test waits on.
type events struct {
	enrolled     chan Credentials
	attempts     chan int
	connected    chan string
	disconnected chan error
	rotated      chan [2]Credentials
	published    chan string
	messages     chan [2]string
	nAttempts    atomic.Int64
	onEnrolled   func()      // run inside OnEnrolled
	onRotated    func()      // run inside OnRotated, before the session moves
	onDown       func(error) // run inside OnDisconnected
}

func newEvents() *events {
	const n = 10000
	return &events{
		enrolled: make(chan Credentials, n), attempts: make(chan int, n), connected: make(chan string, n),
		disconnected: make(chan error, n), rotated: make(chan [2]Credentials, n), published: make(chan string, n),
		messages: make(chan [2]string, n),
	}
}

func (e *events) hooks() Hooks {
	return Hooks{
		OnEnrolled: func(c Credentials) {
			if e.onEnrolled != nil {
				e.onEnrolled()
			}
			e.enrolled <- c
		},
		OnConnectAttempt: func(n int) {
			e.nAttempts.Add(1)
			e.attempts <- n
		},
		OnConnected: func(serial string) { e.connected <- serial },
		OnDisconnected: func(err error) {
			if e.onDown != nil {
				e.onDown(err)
			}
			e.disconnected <- err
		},
		OnRotated: func(old, new Credentials) {
			if e.onRotated != nil {
				e.onRotated()
			}
			e.rotated <- [2]Credentials{old, new}
		},
		OnPublished: func(topic string) { e.published <- topic },
		OnMessage:   func(topic string, payload []byte) { e.messages <- [2]string{topic, string(payload)} },
	}
}

// await returns the next value from ch, failing the test after wait.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// softwareConfig is an agent of srv with a software key and fast backoff.
func softwareConfig(t *testing.T, srv *server, id, token string, ev *events) Config {
	t.Helper()
	log, _ := logbuf.Logger(t, "agent log")
	cfg := DefaultConfig()
	cfg.DeviceID, cfg.ProvisioningURL, cfg.Broker = id, srv.API, srv.MQTT
	cfg.RootCAs, cfg.KeySource, cfg.Token = srv.Roots(), KeySoftware, token
	cfg.BackoffMin, cfg.BackoffMax = Duration{50 * time.Millisecond}, Duration{time.Second}
	cfg.Logger = log
	if ev != nil {
		cfg.Hooks = ev.hooks()
	}
	return cfg
}

// runningAgent is an agent whose Run is in progress.
type runningAgent struct {
	*Agent
	cancel context.CancelFunc
	done   chan error
}

// start runs an agent until the test ends or stop is called.
func start(t *testing.T, cfg Config) *runningAgent {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Error("agent did not stop")
		}
	})
	return r
}

// stop ends Run and returns its error.
func (r *runningAgent) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.result(t)
}

// result waits for Run to return by itself.
func (r *runningAgent) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return")
		return nil
	}
}

// observers numbers observer devices: IDs are never reused.
var observers atomic.Int64

// observer is an MQTT client of a device allowed to read and write every
// device's topics: the independent witness of what the agent sends.
type observer struct {
	client mqtt.Client
	msgs   chan mqtt.Message
}

func (s *server) observer(t *testing.T, filter string) *observer {
	t.Helper()
	id := fmt.Sprintf("observer-%d", observers.Add(1))
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "obs.crt"), filepath.Join(dir, "obs.key")
	s.MustCtl("device", "register", id, "--subscribe", "devices/#", "--publish", "devices/#")
	s.MustCtl("cert", "issue", id, "--new-key", key, "--out", crt)
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{msgs: make(chan mqtt.Message, 10000)}
	opts := mqtt.NewClientOptions().AddBroker("tls://" + s.MQTT).SetClientID(id).SetCleanSession(true).
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetTLSConfig(&tls.Config{RootCAs: s.Roots(), Certificates: []tls.Certificate{pair}})
	o.client = mqtt.NewClient(opts)
	if tok := o.client.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("observer connect: %v", tok.Error())
	}
	t.Cleanup(func() { o.client.Disconnect(100) })
	tok := o.client.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { o.msgs <- m })
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("observer subscribe: %v", tok.Error())
	}
	return o
}

// any returns the next message.
func (o *observer) any(t *testing.T) mqtt.Message {
	t.Helper()
	return await(t, o.msgs, "a message at the observer")
}

// next returns the next message on topic, skipping others.
func (o *observer) next(t *testing.T, topic string) mqtt.Message {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-o.msgs:
			if m.Topic() == topic {
				return m
			}
		case <-deadline:
			t.Fatalf("observer: nothing on %s", topic)
		}
	}
}

// offsetClock is an agent clock a test moves forward and back.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = d
}

// isErr reports errors.Is for table checks.
func isErr(err, target error) bool { return errors.Is(err, target) }

// preRegisterHash imports id with an EK hash, as the factory line does.
func preRegisterHash(t *testing.T, srv *server, id, hash string) {
	t.Helper()
	csv := filepath.Join(t.TempDir(), "factory.csv")
	if err := os.WriteFile(csv, []byte("id,ek_hash\n"+id+","+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.MustCtl("device", "import", csv)
}
