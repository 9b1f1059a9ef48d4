package etcdkv

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// localCopy holds the layout's Local buckets in memory, kept current by
// one etcd watch over the registry's keys (watch.go), and hands what the
// watch brings to the backend's change callback.
type localCopy struct {
	b         *Backend
	buckets   [][]byte // the copied buckets
	sessions  string   // the bucket whose puts are reported, not copied
	barriers  string   // the same for a Confirmer's markers
	onChange  func([]kv.RawChange)
	grace     time.Duration
	heartbeat time.Duration

	mu      sync.RWMutex
	data    map[string]map[string][]byte // bucket -> key -> record
	rev     int64                        // every event up to rev is applied and reported
	advance chan struct{}                // closed and replaced when rev grows

	lastHeard atomic.Int64 // unix ns of the watch's latest answer
	resyncs   atomic.Uint64
	reachable atomic.Bool
	pastGrace atomic.Bool

	watchMu  sync.Mutex
	watchCtx context.Context // the current watch's context, for RequestProgress

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newCopy(b *Backend, l kv.Layout, o Options, onChange func([]kv.RawChange)) *localCopy {
	if onChange == nil {
		onChange = func([]kv.RawChange) {}
	}
	return &localCopy{b: b, buckets: l.Local, sessions: string(l.Sessions), barriers: string(l.Barriers), onChange: onChange,
		grace: o.Grace, heartbeat: o.Heartbeat, advance: make(chan struct{})}
}

// init loads the copied buckets.
func (c *localCopy) init(ctx context.Context) error {
	data, rev, err := c.load(ctx)
	if err != nil {
		return err
	}
	c.data, c.rev = data, rev
	return nil
}

// load reads every copied bucket at one revision.
func (c *localCopy) load(ctx context.Context) (map[string]map[string][]byte, int64, error) {
	tx := &etcdTx{b: c.b, ctx: ctx, readOnly: true}
	data := make(map[string]map[string][]byte, len(c.buckets))
	for _, name := range c.buckets {
		recs := make(map[string][]byte)
		err := tx.Bucket(name).ForEach(func(k, v []byte) error {
			recs[string(k)] = v
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		data[string(name)] = recs
	}
	if tx.rev == 0 { // nothing was read: no bucket is copied
		return nil, 0, fmt.Errorf("%w: no revision", kv.ErrUnavailable)
	}
	return data, tx.rev, nil
}

func (c *localCopy) revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// advanceTo records that every change up to rev was applied and reported,
// and wakes those waiting for it.
func (c *localCopy) advanceTo(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.rev {
		c.rev = rev
		close(c.advance)
		c.advance = make(chan struct{})
	}
}

// waitFor waits up to the request timeout, and while ctx lasts, for the
// copy to reach rev.
func (c *localCopy) waitFor(ctx context.Context, rev int64) bool {
	timer := time.NewTimer(c.b.timeout)
	defer timer.Stop()
	for {
		c.mu.RLock()
		cur, advance := c.rev, c.advance
		c.mu.RUnlock()
		if cur >= rev {
			return true
		}
		select {
		case <-advance:
		case <-timer.C:
			return false
		case <-c.ctx.Done():
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// view runs fn on the copy. It first waits, briefly, until the copy holds
// this process's own latest commit, so that a caller reads what it just
// wrote. Past the grace period without news from etcd it refuses.
func (c *localCopy) view(ctx context.Context, fn func(tx kv.Tx) error) error {
	if c.b.closed.Load() {
		return errClosed
	}
	if err := notStarted(ctx); err != nil {
		return err
	}
	if want := c.b.lastCommit.Load(); want > 0 && !c.waitFor(ctx, want) {
		return c.b.View(ctx, fn) // the watch lags (or ctx ended): read from the cluster
	}
	if age := c.age(); age > c.grace {
		return fmt.Errorf("%w: no answer from etcd for %s (grace %s)", kv.ErrUnavailable, age.Round(time.Second), c.grace)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return fn(copyTx{c.data})
}
