package test

import (
	"context"
	"crypto/x509"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestCrashSafety kills the real server with SIGKILL at random moments
// while devices enroll by token, rotate their certificates and are
// revoked, restarts it on the same data directory, and checks the
// registry after every kill (checkRegistry): consistent file, no
// half-enrolled device, no reused serial, no lost acknowledged
// revocation. The server's own start runs the consistency check too, and
// refuses to start on a damaged file. FLEETGATE_CRASH_ITER sets the
// number of kills (default 12; `make soak` runs 200).
func TestCrashSafety(t *testing.T) {
	const group, workers, tokensPerRun = "crash", 6, 300
	iterations := crashIterations(t, 12)
	dir := t.TempDir()
	m := newCrashModel()
	var roots *x509.CertPool
	var last crashCounts
	start := time.Now()
	for i := range iterations {
		s := startServer(t, dir, "--log-level", "info")
		if roots == nil {
			roots = pki.ReadPool(t, s.CAFile("root.crt"))
		}
		admin := adminClient(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), attackWait)
		if i == 0 {
			if _, err := admin.PutGroup(ctx, group, wire.GroupRequest{AllowTokens: true}); err != nil {
				t.Fatal(err)
			}
		}
		created, err := admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: group, Count: tokensPerRun, TTL: "1h"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		m.tokens = created.Tokens // the previous run's unused tokens are left to expire
		m.mu.Unlock()

		loadCtx, stopLoad := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			crashLoad(loadCtx, s, m, roots, admin, workers, uint64(i))
			close(done)
		}()
		// The kill lands anywhere in the first 300 ms of load: often in
		// the middle of a group commit, sometimes between requests.
		<-time.After(time.Duration(5+rand.IntN(300)) * time.Millisecond)
		if err := s.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-s.Exited()
		stopLoad()
		<-done
		admin.CloseIdleConnections()
		last = checkRegistry(t, filepath.Join(dir, "registry.db"), m, group)
	}
	// A clean start and stop after the last kill, and a last look.
	s := startServer(t, dir, "--log-level", "info")
	s.Stop()
	last = checkRegistry(t, filepath.Join(dir, "registry.db"), m, group)

	t.Logf("%d kills in %s; registry: %d devices, %d certificates, %d tokens consumed",
		iterations, time.Since(start).Round(time.Second), last.devices, last.certificates, last.usedTokens)
	t.Logf("enrollments: %d acknowledged, %d refused, %d lost to the kill", m.enrollOK, m.enrollRefused, m.enrollLost)
	t.Logf("rotations: %d acknowledged, %d refused, %d lost", m.rotateOK, m.rotateRefused, m.rotateLost)
	t.Logf("device revocations: %d acknowledged, %d refused, %d lost; certificate revocations: %d acknowledged, %d refused, %d lost",
		m.revokeOK, m.revokeRefused, m.revokeLost, m.certRevokeOK, m.certRevokeRefused, m.certRevokeLost)
	if m.enrollOK == 0 || m.rotateOK == 0 || m.revokeOK == 0 {
		t.Fatalf("the load did not exercise every path (enrollments %d, rotations %d, revocations %d)", m.enrollOK, m.rotateOK, m.revokeOK)
	}
}

// adminClient is an operator API client authenticated as the server's
// first operator.
func adminClient(t testing.TB, s *server) *client.Client {
	t.Helper()
	conf, err := client.LoadTLS(s.CAFile("admin.crt"), s.CAFile("admin.key"), s.CAFile("root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return client.New(s.API, conf)
}
