package etcdkv

import (
	"context"
	"errors"

	"github.com/fleetgate/fleetgate/store/kv"
)

// ViewLocal runs fn on the local copy. A record missing from the copy is
// looked for in the cluster before fn's kv.ErrNotFound stands: a device
// enrolled through another host a moment ago may connect before the watch
// brought its certificate. Only holders of a certificate from the device
// CA get this far on a broker, so misses do not let strangers load etcd.
func (b *Backend) ViewLocal(ctx context.Context, fn func(tx kv.Tx) error) error {
	err := b.copy.view(ctx, fn)
	if errors.Is(err, kv.ErrNotFound) && b.copy.age() <= b.copy.grace {
		return b.View(ctx, fn)
	}
	return err
}

// AwaitOwnCommits waits, up to the request timeout and while ctx lasts,
// until the watch reported this process's latest commit.
func (b *Backend) AwaitOwnCommits(ctx context.Context) {
	if want := b.lastCommit.Load(); want > 0 {
		b.copy.waitFor(ctx, want)
	}
}

// StopWatch stops the watch and its heartbeat as a long partition would,
// leaving the copy as it is. StartWatch starts them again from the copy's
// revision, resyncing if etcd compacted past it. Tests use the pair to
// make the copy fall behind.
func (b *Backend) StopWatch() { b.copy.stop() }

// StartWatch: see StopWatch.
func (b *Backend) StartWatch() { b.copy.start() }
