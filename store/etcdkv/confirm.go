package etcdkv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Followers (the brokers) confirm how far they applied the change feed
// under <prefix>/followers/<member>: the decimal revision, on a lease of
// FollowerTTL that the process keeps alive. A broker that stops leaves at
// once; one that crashed, or lost etcd, for the lease's time. The key is
// outside <prefix>/b/, so no watch of the registry carries it.
//
// A barrier is a put of <prefix>/b/<barriers>/b: every host's watch
// reports it in revision order, after every change committed before it.

// FollowerTTL is the lease of a follower's key: longer than an operator
// waits for a revocation, so that a broker frozen or cut off during the
// wait is named as not confirming rather than dropped from the count.
const FollowerTTL = 30 * time.Second

var _ kv.Confirmer = (*Backend)(nil)

func (b *Backend) followersPrefix() string { return b.prefix + "/followers/" }

// Barrier writes a marker into the barriers bucket and returns its revision.
func (b *Backend) Barrier(ctx context.Context) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if b.copy.barriers == "" {
		return 0, fmt.Errorf("%w: the layout has no barriers bucket", kv.ErrUnavailable)
	}
	ctx, cancel := b.reqCtx(ctx)
	defer cancel()
	resp, err := b.cli.Put(ctx, b.bucketKey([]byte(b.copy.barriers), []byte("b")), strconv.FormatInt(time.Now().UnixNano(), 10))
	if err != nil {
		return 0, fmt.Errorf("write barrier: %w", mapErr(err))
	}
	return resp.Header.Revision, nil
}

// AwaitFollowers reads the followers' keys, then watches them until every
// follower confirmed rev or ctx is done.
func (b *Backend) AwaitFollowers(ctx context.Context, rev int64) (followers, missing []string, err error) {
	if b.closed.Load() {
		return nil, nil, errClosed
	}
	rctx, cancel := b.reqCtx(ctx)
	resp, err := b.cli.Get(rctx, b.followersPrefix(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("read followers: %w", mapErr(err))
	}
	w := newWaitList(rev)
	for _, kv := range resp.Kvs {
		w.put(b.member(kv.Key), kv.Value)
	}
	if w.done() {
		return w.result()
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := b.cli.Watch(wctx, b.followersPrefix(), clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, nil, fmt.Errorf("watch followers: %w", mapErr(err))
		}
		for _, ev := range resp.Events {
			if ev.Type == mvccpb.DELETE {
				w.leave(b.member(ev.Kv.Key))
				continue
			}
			w.put(b.member(ev.Kv.Key), ev.Kv.Value)
		}
		if w.done() {
			break
		}
	}
	return w.result()
}

func (b *Backend) member(key []byte) string {
	return strings.TrimPrefix(string(key), b.followersPrefix())
}

// waitList is what AwaitFollowers knows: each follower's latest revision.
type waitList struct {
	rev   int64
	order []string
	at    map[string]int64
}

func newWaitList(rev int64) *waitList { return &waitList{rev: rev, at: make(map[string]int64)} }

func (w *waitList) put(member string, value []byte) {
	n, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		n = 0 // unreadable: not confirmed
	}
	if _, ok := w.at[member]; !ok {
		w.order = append(w.order, member)
	}
	w.at[member] = max(w.at[member], n)
}

func (w *waitList) leave(member string) { delete(w.at, member) }

func (w *waitList) done() bool {
	for _, n := range w.at {
		if n < w.rev {
			return false
		}
	}
	return true
}

func (w *waitList) result() (followers, missing []string, err error) {
	for _, m := range w.order {
		n, ok := w.at[m]
		if !ok {
			continue
		}
		followers = append(followers, m)
		if n < w.rev {
			missing = append(missing, m)
		}
	}
	return followers, missing, nil
}

// Follow starts keeping member's key: on a lease, with the latest
// revision confirmed, written by one goroutine that also re-creates the
// lease should it be lost (a partition longer than FollowerTTL).
func (b *Backend) Follow(member string) kv.Follower {
	f := &follower{b: b, key: b.followersPrefix() + member, want: b.copy.revision(),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	go f.run()
	return f
}

type follower struct {
	b      *Backend
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // capacity 1: "want may have grown"

	mu   sync.Mutex
	want int64
}

func (f *follower) Confirm(rev int64) {
	f.mu.Lock()
	f.want = max(f.want, rev)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *follower) Leave() {
	f.cancel()
	<-f.done
}

func (f *follower) wanted() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.want
}

// run holds a lease and writes the wanted revision under it whenever it
// grows, until Leave; then it revokes the lease, which deletes the key.
func (f *follower) run() {
	defer close(f.done)
	retry := 50 * time.Millisecond
	for f.ctx.Err() == nil {
		lease, err := f.hold()
		if err == nil {
			retry = 50 * time.Millisecond
			continue
		}
		if f.ctx.Err() == nil {
			f.b.log.Warn("confirming the applied registry changes failed; retrying", "err", err, "member", f.key)
		}
		if lease != 0 {
			f.revoke(lease)
		}
		select {
		case <-f.ctx.Done():
		case <-time.After(retry):
		}
		retry = min(2*retry, 2*time.Second)
	}
}

// hold grants a lease and keeps the key current on it until the lease is
// lost, a write fails or Leave.
func (f *follower) hold() (clientv3.LeaseID, error) {
	ctx, cancel := f.b.reqCtx(f.ctx)
	g, err := f.b.cli.Grant(ctx, int64(FollowerTTL/time.Second))
	cancel()
	if err != nil {
		return 0, fmt.Errorf("grant lease: %w", mapErr(err))
	}
	ka, err := f.b.cli.KeepAlive(f.ctx, g.ID)
	if err != nil {
		return g.ID, fmt.Errorf("keep lease alive: %w", mapErr(err))
	}
	written := int64(-1)
	for {
		if want := f.wanted(); want != written {
			ctx, cancel := f.b.reqCtx(f.ctx)
			_, err := f.b.cli.Put(ctx, f.key, strconv.FormatInt(want, 10), clientv3.WithLease(g.ID))
			cancel()
			if err != nil {
				return g.ID, fmt.Errorf("write confirmed revision: %w", mapErr(err))
			}
			written = want
		}
		select {
		case <-f.wake:
		case _, ok := <-ka:
			if !ok {
				if f.ctx.Err() != nil {
					f.revoke(g.ID)
					return 0, nil
				}
				return 0, fmt.Errorf("%w: lease lost", kv.ErrUnavailable)
			}
		case <-f.ctx.Done():
			f.revoke(g.ID)
			return 0, nil
		}
	}
}

// revoke ends a lease, deleting the key, with a request timeout of its own.
func (f *follower) revoke(id clientv3.LeaseID) {
	ctx, cancel := f.b.reqCtx(context.Background())
	defer cancel()
	_, _ = f.b.cli.Revoke(ctx, id)
}
