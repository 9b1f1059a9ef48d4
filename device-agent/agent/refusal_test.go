package agent

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRevoked revokes or suspends a connected device: the broker drops
// it, the agent's next attempt is refused and Run stops with ErrRevoked,
// without a reconnect loop.
func TestRevoked(t *testing.T) {
	for _, tt := range []struct {
		name, id string
		cmd      []string
	}{
		{"error/revoked", "rev-1", []string{"device", "revoke", "rev-1", "--reason", "stolen"}},
		{"error/suspended", "rev-2", []string{"device", "suspend", "rev-2", "--reason", "audit"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			ev := newEvents()
			cfg := softwareConfig(t, srv, tt.id, srv.Token("boards"), ev)
			a := start(t, cfg)
			await(t, ev.connected, "connection")

			srv.MustCtl(tt.cmd...)
			err := a.result(t)
			if !errors.Is(err, ErrRevoked) {
				t.Fatalf("Run = %v, want ErrRevoked", err)
			}
			// One attempt at start, one refused after the drop.
			if n := ev.nAttempts.Load(); n > 2 {
				t.Errorf("%d connection attempts, want at most 2", n)
			}
		})
	}
}

// TestRevokedWhileOff starts an agent whose device was revoked while it
// was off: one attempt, refused, and Run returns ErrRevoked.
func TestRevokedWhileOff(t *testing.T) {
	srv := newServer(t)
	cfg := enrolledState(t, srv, "rev-3")
	srv.MustCtl("device", "revoke", "rev-3", "--reason", "decommissioned")
	ev := newEvents()
	cfg.Hooks = ev.hooks()
	a := start(t, cfg)
	if err := a.result(t); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Run = %v, want ErrRevoked", err)
	}
	if n := ev.nAttempts.Load(); n != 1 {
		t.Errorf("%d connection attempts, want 1", n)
	}
}

// TestExpiredWhileOffline starts agents whose certificate expired while
// they were off (their clock is moved past NotAfter). A software device
// needs a fresh token; without one it stops with ErrNeedsEnrollment and
// never tries the broker.
func TestExpiredWhileOffline(t *testing.T) {
	srv := newServer(t)
	cfg := enrolledState(t, srv, "exp-1")
	used := cfg.Token
	tests := []struct {
		name  string
		token string
		want  error
		msg   string
	}{
		{"error/no-token", "", ErrNeedsEnrollment, "no enrollment token"},
		{"error/used-token", used, ErrNeedsEnrollment, "already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvents()
			c := cfg
			c.Token, c.Hooks = tt.token, ev.hooks()
			c.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
			a := start(t, c)
			err := a.result(t)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Run = %v, want %v saying %q", err, tt.want, tt.msg)
			}
			if n := ev.nAttempts.Load(); n != 0 {
				t.Errorf("%d broker attempts with an expired certificate", n)
			}
		})
	}

	// A fresh token while the registry still holds a certificate valid by
	// the server's clock (only the device's clock moved): the server
	// refuses, and the agent says what to do.
	t.Run("error/fresh-token-for-existing-device", func(t *testing.T) {
		ev := newEvents()
		c := cfg
		c.Token, c.Hooks = srv.Token("boards"), ev.hooks()
		c.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
		err := start(t, c).result(t)
		if !errors.Is(err, ErrNeedsEnrollment) || !strings.Contains(err.Error(), "no valid certificate") {
			t.Fatalf("Run = %v, want ErrNeedsEnrollment explaining the token path", err)
		}
		if n := ev.nAttempts.Load(); n != 0 {
			t.Errorf("%d broker attempts with an expired certificate", n)
		}
	})
}

// TestClockAhead runs a new device whose clock is past the lifetime of
// any certificate the server issues now: it enrolls once and stops with
// ErrClock instead of enrolling again and again.
func TestClockAhead(t *testing.T) {
	srv := newServer(t)
	ev := newEvents()
	cfg := softwareConfig(t, srv, "clk-1", srv.Token("boards"), ev)
	cfg.Now = func() time.Time { return time.Now().Add(400 * 24 * time.Hour) }
	err := start(t, cfg).result(t)
	if !errors.Is(err, ErrClock) {
		t.Fatalf("Run = %v, want ErrClock", err)
	}
	if n := ev.nAttempts.Load(); n != 0 {
		t.Errorf("%d broker attempts", n)
	}
}
