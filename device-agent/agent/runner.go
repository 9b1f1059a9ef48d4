package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// runner is the state of one Run: what it loaded, and its key source.
type runner struct {
	a     *Agent
	cfg   Config
	log   *slog.Logger
	store StateStore
	keys  keySource
	st    *State              // last saved state; nil before the first enrollment
	trust *trustbundle.Bundle // the trust bundle held; nil: the configured CA
	// trustChecked: the trust bundle was fetched after the first session
	// of this Run came up (checkTrustAtStart).
	trustChecked bool

	rotFails   int       // failed rotations of the current certificate
	rotRetryAt time.Time // after a failed rotation: when to try again

	brokers []string // the configuration's BrokerList
	next    int      // index in brokers of the next connection attempt
}

// errExpired ends a session because the certificate expired: the runner
// enrolls again (or stops, by the re-enrollment policy).
var errExpired = errors.New("agent: certificate expired")

// run alternates enrollment and session until one of them stops the agent.
func (r *runner) run(ctx context.Context) error {
	for {
		if err := r.ensureCreds(ctx); err != nil {
			return err
		}
		err := r.session(ctx)
		if !errors.Is(err, errExpired) {
			return err
		}
	}
}

// now is the agent's clock.
func (r *runner) now() time.Time { return r.cfg.Now() }

// backoff draws the wait before retry n.
func (r *runner) backoff(n int) time.Duration {
	return backoff(r.cfg.BackoffMin.Duration, r.cfg.BackoffMax.Duration, n, r.cfg.Rand())
}

// pickBroker draws the broker of the first attempt, once per Run, so a
// fleet started together spreads over the list instead of piling onto
// its first entry. Later attempts go through the list in order.
func (r *runner) pickBroker() {
	r.brokers = slices.Clone(r.cfg.BrokerList())
	if n := len(r.brokers); n > 1 {
		r.next = min(max(int(r.cfg.Rand()*float64(n)), 0), n-1)
	}
}

// nextBroker moves the next attempt to the following broker of the list.
func (r *runner) nextBroker() { r.next = (r.next + 1) % len(r.brokers) }

// install makes c the current credentials and returns the old ones. A
// new certificate starts with a clean rotation schedule.
func (r *runner) install(c *creds) *creds {
	r.rotFails, r.rotRetryAt = 0, time.Time{}
	return r.a.cur.Swap(c)
}

// expired reports whether the current certificate is past its NotAfter.
func (r *runner) expired() bool {
	c := r.a.cur.Load()
	return c == nil || !r.now().Before(c.info.NotAfter)
}

// requestCtx bounds one provisioning step.
func (r *runner) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.RequestTimeout.Duration)
}
