package agent

import (
	"context"
	"syscall"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// rolloverStep runs `fleetgate ca root-rollover step` on the server's
// data directory, sends it SIGHUP and waits for the reload that logs
// change.
func rolloverStep(t *testing.T, srv *server, dataDir, step, change string, extra ...string) {
	t.Helper()
	args := append([]string{"ca", "root-rollover", step, "--data", dataDir}, extra...)
	out, errOut, code := fleetserver.Run(t, bins.Fleetgate(t), args...)
	if code != 0 {
		t.Fatalf("ca root-rollover %s: exit %d\n%s%s", step, code, out, errOut)
	}
	if err := srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	srv.Logs.Await(t, wait, "msg=reloaded", "part=ca", change)
}

// TestRootRollover runs a root rollover under a real server and a real
// agent enrolled under the first root: it reconnects after begin with its
// old certificate (verifying the server through the cross-certificate),
// learns the new root from the trust bundle when it rotates onto a
// certificate under it, and after finish still connects, though it was
// configured with the first root only.
func TestRootRollover(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "127.0.0.1:0", "127.0.0.1:0", "--reload-interval", "0s")
	ev := newEvents()
	cfg := softwareConfig(t, srv, "roll-1", srv.Token("boards"), ev)
	cfg.StateDir = t.TempDir()
	log, logs := logbuf.Logger(t, "agent log")
	cfg.Logger = log
	a := start(t, cfg)
	first := await(t, ev.enrolled, "enrollment")
	await(t, ev.connected, "connection")

	rollover := func(step, change string) {
		t.Helper()
		rolloverStep(t, srv, dataDir, step, change)
	}
	// restart stops the agent and runs it again from its state directory:
	// a fresh TLS handshake with the broker and a fresh verification.
	restart := func() (*runningAgent, string) {
		t.Helper()
		if err := a.stop(t); err != nil {
			t.Fatalf("stop: %v", err)
		}
		again := start(t, cfg)
		return again, await(t, ev.connected, "reconnection")
	}

	rollover("begin", "root ")
	a, serial := restart()
	if serial != first.Serial {
		t.Fatalf("after begin reconnected with %s, want the certificate under the first root %s", serial, first.Serial)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rot := await(t, ev.rotated, "rotation")
	if got := await(t, ev.connected, "connection after the rotation"); got != rot[1].Serial {
		t.Fatalf("connected with %s after the rotation, want %s", got, rot[1].Serial)
	}
	logs.Await(t, wait, "accepted a trust bundle", "roots=2")

	rollover("finish", "previous root retired")
	// The agent's configuration still names the first root alone: only
	// the trust bundle it stored lets it verify the server now.
	_, serial = restart()
	if serial != rot[1].Serial {
		t.Fatalf("after finish connected with %s, want the certificate under the new root %s", serial, rot[1].Serial)
	}
}

// TestTrustBundleAtStart: an agent that was off when a root rollover
// began learns the new root as soon as it runs again, from the trust
// bundle it fetches once its session is up, with no rotation and long
// before trust_refresh.
func TestTrustBundleAtStart(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "127.0.0.1:0", "127.0.0.1:0", "--reload-interval", "0s")
	ev := newEvents()
	cfg := softwareConfig(t, srv, "roll-off", srv.Token("boards"), ev)
	cfg.StateDir = t.TempDir()
	log, logs := logbuf.Logger(t, "agent log")
	cfg.Logger = log
	a := start(t, cfg)
	first := await(t, ev.enrolled, "enrollment")
	await(t, ev.connected, "connection")
	logs.Await(t, wait, "checked the trust bundle at start", "roots=1")
	if err := a.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	rolloverStep(t, srv, dataDir, "begin", "root ")
	start(t, cfg)
	if serial := await(t, ev.connected, "reconnection"); serial != first.Serial {
		t.Fatalf("after begin reconnected with %s, want the certificate under the first root %s", serial, first.Serial)
	}
	logs.Await(t, wait, "accepted a trust bundle", "roots=2")
	if n := len(ev.rotated); n != 0 {
		t.Fatalf("the agent rotated %d times; the trust bundle should come without a rotation", n)
	}
}
