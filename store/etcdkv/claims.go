package etcdkv

import (
	"context"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// claimer writes session claims; those that arrive together share one
// etcd transaction, so a reconnect storm across brokers costs a few
// commits, not one per device. Its goroutine starts with the first claim.
type claimer struct {
	once   sync.Once
	queue  chan claimReq
	ctx    context.Context // the goroutine's own; done once stop was called
	cancel context.CancelFunc
}

type claimReq struct {
	key, owner string
	result     chan claimResult // buffered
}

type claimResult struct {
	rev int64
	err error
}

// ClaimSession records owner as the holder of key's session in the
// layout's Sessions bucket and returns the revision of the write. Every
// host receives the claim through its watch.
//
// ctx bounds the wait for a place in a batch. Once the claim is in a
// transaction being committed, ClaimSession waits for the outcome (at
// most the request timeout): abandoning a commit in flight would leave
// the caller unsure whether its claim stands.
func (b *Backend) ClaimSession(ctx context.Context, key, owner string) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session claim not sent: %w", err)
	}
	b.claims.once.Do(func() {
		b.claims.queue = make(chan claimReq)
		b.claims.ctx, b.claims.cancel = context.WithCancel(context.Background())
		go b.runClaims()
	})
	req := claimReq{key: key, owner: owner, result: make(chan claimResult, 1)}
	select {
	case b.claims.queue <- req:
	case <-b.claims.ctx.Done():
		return 0, errClosed
	case <-ctx.Done():
		return 0, fmt.Errorf("session claim not sent: %w", ctx.Err())
	}
	r := <-req.result
	return r.rev, r.err
}

// stop ends the claim goroutine; no goroutine starts after it.
func (c *claimer) stop() {
	c.once.Do(func() {})
	if c.cancel != nil {
		c.cancel()
	}
}

func (b *Backend) runClaims() {
	for {
		var first claimReq
		select {
		case first = <-b.claims.queue:
		case <-b.claims.ctx.Done():
			return
		}
		batch := []claimReq{first}
	collect:
		for len(batch) < b.maxOps-1 {
			select {
			case r := <-b.claims.queue:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		res := b.commitClaims(batch)
		for _, r := range batch {
			r.result <- res
		}
	}
}

// commitClaims writes one batch in one transaction. One put per key (etcd
// refuses a key twice in a transaction): the last claim in the batch is
// the one that stands.
func (b *Backend) commitClaims(batch []claimReq) claimResult {
	last := make(map[string]string, len(batch))
	var keys []string
	for _, r := range batch {
		if _, seen := last[r.key]; !seen {
			keys = append(keys, r.key)
		}
		last[r.key] = r.owner
	}
	ops := make([]clientv3.Op, 0, len(keys))
	for _, k := range keys {
		ops = append(ops, clientv3.OpPut(b.bucketKey([]byte(b.copy.sessions), []byte(k)), last[k]))
	}
	ctx, cancel := b.reqCtx(b.claims.ctx)
	defer cancel()
	resp, err := b.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return claimResult{err: mapErr(err)}
	}
	return claimResult{rev: resp.Header.Revision}
}
