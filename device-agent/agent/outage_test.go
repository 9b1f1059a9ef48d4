package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// enrolled runs a software agent of srv until it connected once, then
// stops it: the state directory then holds a valid certificate.
func enrolledState(t *testing.T, srv *server, id string) Config {
	t.Helper()
	ev := newEvents()
	cfg := softwareConfig(t, srv, id, srv.Token("boards"), ev)
	cfg.StateDir = t.TempDir()
	a := start(t, cfg)
	await(t, ev.connected, "first connection")
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	cfg.Hooks = Hooks{}
	return cfg
}

// TestBrokerDown starts an enrolled agent while nothing listens on the
// broker's address: it retries with growing, jittered waits and connects
// as soon as the broker comes up there.
func TestBrokerDown(t *testing.T) {
	srv := newServer(t)
	cfg := enrolledState(t, srv, "out-1")
	srv.Stop()

	mqttAddr := freeAddr(t)
	ev := newEvents()
	cfg.Hooks = ev.hooks()
	cfg.Broker = mqttAddr
	cfg.BackoffMin, cfg.BackoffMax = Duration{100 * time.Millisecond}, Duration{800 * time.Millisecond}
	log, logs := logbuf.Logger(t, "agent log")
	cfg.Logger = log
	start(t, cfg)

	var times []time.Time
	for i := 1; i <= 4; i++ {
		if n := await(t, ev.attempts, "a connection attempt"); n != i {
			t.Fatalf("attempt numbered %d, want %d", n, i)
		}
		times = append(times, time.Now())
		if err := await(t, ev.disconnected, "the attempt's failure"); err == nil {
			t.Fatal("a failed attempt reported no error")
		}
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < cfg.BackoffMin.Duration {
			t.Errorf("retry %d after %v, below the %v floor", i, gap, cfg.BackoffMin)
		}
	}
	if !strings.Contains(logs.String(), "broker unreachable; retrying") {
		t.Error("the retries were not logged")
	}

	startServer(t, srv.DataDir, mqttAddr, "127.0.0.1:0")
	await(t, ev.connected, "connection once the broker is up")
}

// TestProvisioningDown starts a new device while the provisioning service
// is down: enrollment is retried (and logged) until the service comes up,
// then the device enrolls and connects.
func TestProvisioningDown(t *testing.T) {
	srv := newServer(t)
	token := srv.Token("boards")
	srv.Stop()

	apiAddr, mqttAddr := freeAddr(t), freeAddr(t)
	ev := newEvents()
	cfg := softwareConfig(t, srv, "out-2", token, ev)
	cfg.ProvisioningURL, cfg.Broker = "https://"+apiAddr, mqttAddr
	cfg.BackoffMin, cfg.BackoffMax = Duration{100 * time.Millisecond}, Duration{500 * time.Millisecond}
	log, logs := logbuf.Logger(t, "agent log")
	cfg.Logger = log
	start(t, cfg)

	// No event marks a failed enrollment attempt: the log is the witness.
	deadline := time.Now().Add(wait)
	for strings.Count(logs.String(), "retrying enrollment") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("enrollment retries not logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case c := <-ev.enrolled:
		t.Fatalf("enrolled with provisioning down: %+v", c)
	default:
	}
	if n := ev.nAttempts.Load(); n != 0 {
		t.Errorf("%d broker attempts before the device had a certificate", n)
	}

	startServer(t, srv.DataDir, mqttAddr, apiAddr)
	await(t, ev.enrolled, "enrollment once provisioning is up")
	await(t, ev.connected, "connection")
}

// TestStopWhileOffline stops agents that are waiting for the broker or
// for provisioning: Run returns nil promptly, as SIGTERM on a device that
// lost its network must.
func TestStopWhileOffline(t *testing.T) {
	srv := newServer(t)
	enrolled := enrolledState(t, srv, "stop-1")
	fresh := softwareConfig(t, srv, "stop-2", srv.Token("boards"), nil)
	srv.Stop()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"ok/broker-down", enrolled},
		{"ok/provisioning-down", fresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvents()
			c := tt.cfg
			c.Hooks = ev.hooks()
			a := start(t, c)
			if tt.name == "ok/broker-down" {
				await(t, ev.disconnected, "a failed attempt")
			}
			stopped := time.Now()
			if err := a.stop(t); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			if d := time.Since(stopped); d > 10*time.Second {
				t.Errorf("stopping took %v", d)
			}
			if err := a.Rotate(t.Context()); !isErr(err, ErrNotRunning) {
				t.Errorf("Rotate after Run: %v, want ErrNotRunning", err)
			}
		})
	}
}
