package agent

import (
	"context"
	"syscall"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
)

// rolloverRig is a server whose CA directory a test rolls, and an agent
// enrolled under its first root and connected.
type rolloverRig struct {
	dataDir string
	srv     *server
	ev      *events
	cfg     Config
	logs    *logbuf.Buffer
	a       *runningAgent
	first   Credentials
}

// startRolloverRig starts the server and the agent id, and waits for its
// enrollment and first connection.
func startRolloverRig(t *testing.T, id string) *rolloverRig {
	t.Helper()
	g := &rolloverRig{dataDir: t.TempDir(), ev: newEvents()}
	g.srv = startServer(t, g.dataDir, "127.0.0.1:0", "127.0.0.1:0", "--reload-interval", "0s")
	g.cfg = softwareConfig(t, g.srv, id, g.srv.Token("boards"), g.ev)
	g.cfg.StateDir = t.TempDir()
	g.cfg.Logger, g.logs = logbuf.Logger(t, "agent log")
	g.a = start(t, g.cfg)
	g.first = await(t, g.ev.enrolled, "enrollment")
	await(t, g.ev.connected, "connection")
	return g
}

// step runs `fleetgate ca root-rollover step` on the server's data
// directory, sends it SIGHUP and waits for the reload that logs change.
// finish is given the server's operator API, which it asks whether any
// device is still under the first root.
func (g *rolloverRig) step(t *testing.T, step, change string) {
	t.Helper()
	args := []string{"ca", "root-rollover", step, "--data", g.dataDir}
	var out, errOut string
	var code int
	if step == "finish" {
		out, errOut, code = g.srv.Ctl(args...)
	} else {
		out, errOut, code = fleetserver.Run(t, bins.Fleetgate(t), args...)
	}
	if code != 0 {
		t.Fatalf("ca root-rollover %s: exit %d\n%s%s", step, code, out, errOut)
	}
	if err := g.srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	g.srv.Logs.Await(t, wait, "msg=reloaded", "part=ca", change)
}

// TestRootRollover runs a root rollover under a real server and a real
// agent enrolled under the first root: it reconnects after begin with its
// old certificate (verifying the server through the cross-certificate),
// learns the new root from the trust bundle when it rotates onto a
// certificate under it, and after finish still connects, though it was
// configured with the first root only.
func TestRootRollover(t *testing.T) {
	g := startRolloverRig(t, "roll-1")
	ev, cfg, logs, a, first := g.ev, g.cfg, g.logs, g.a, g.first

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

	g.step(t, "begin", "root ")
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
	// finish refuses while the certificate under the first root is
	// active: it becomes superseded once the broker has seen the new one.
	g.srv.Logs.Await(t, wait, "predecessors superseded", "device=roll-1")

	g.step(t, "finish", "previous root retired")
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
	g := startRolloverRig(t, "roll-off")
	ev, cfg, logs, a, first := g.ev, g.cfg, g.logs, g.a, g.first
	logs.Await(t, wait, "checked the trust bundle at start", "roots=1")
	if err := a.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	g.step(t, "begin", "root ")
	start(t, cfg)
	if serial := await(t, ev.connected, "reconnection"); serial != first.Serial {
		t.Fatalf("after begin reconnected with %s, want the certificate under the first root %s", serial, first.Serial)
	}
	logs.Await(t, wait, "accepted a trust bundle", "roots=2")
	if n := len(ev.rotated); n != 0 {
		t.Fatalf("the agent rotated %d times; the trust bundle should come without a rotation", n)
	}
}
