package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Group commit. An fsynced bbolt commit costs far more than writing one
// enrollment, serial or challenge, so concurrent callers of those small,
// independent writes share one transaction: a batcher goroutine collects
// them and commits them together, and each caller still gets its own
// result.
const (
	// maxBatch bounds the items of one transaction, and so the latency one
	// slow commit adds to every caller in it.
	maxBatch = 256
	// batchWindow is how long the batcher waits for stragglers when the
	// previous commit showed that callers arrive together. A lone caller
	// never waits: its item commits as soon as it arrives.
	batchWindow = 2 * time.Millisecond
)

// batchItem is one caller's share of a group commit.
type batchItem struct {
	// check reads, inside tx, everything the item depends on and returns
	// either the caller's refusal or the function that writes the item. It
	// must not write: a refused item then leaves no trace, and the other
	// items of the transaction go on. Items run in arrival order, so an
	// item sees what the items before it wrote.
	check func(tx kv.Tx) (write func(tx kv.Tx) error, err error)
	// fetch names what check will read, so that a backend whose reads
	// cross the network (etcd) reads every item's keys in one request
	// before the checks run, instead of one request per key, one item
	// after the other.
	fetch []kv.Fetch
	done  chan error // buffered: the batcher never waits for the caller
}

// batcher owns the goroutine that turns queued items into transactions.
// Its commits run under its own context, not a caller's: a transaction
// serves several callers, and one of them giving up must not fail the
// others. The backend's request timeout bounds each commit.
type batcher struct {
	ctx     context.Context
	items   chan *batchItem // unbuffered: an item sent is an item answered
	stop    chan struct{}   // closed by close: no new items are taken
	stopped chan struct{}   // closed when the goroutine has returned
	limit   int             // items per transaction: db.batchLimit
	waiting atomic.Int64    // callers that submitted and wait for their result
	commits atomic.Uint64   // transactions committed, for benchmarks and tests
}

// errNothingWritten rolls back a batch in which every item was refused, so
// that it costs no fsync.
var errNothingWritten = errors.New("no item of the batch was written")

// start runs the batcher's goroutine for db.
func (b *batcher) start(db *DB) {
	b.ctx = context.Background()
	b.limit = db.batchLimit()
	b.items = make(chan *batchItem)
	b.stop = make(chan struct{})
	b.stopped = make(chan struct{})
	go b.run(db)
}

// close stops taking items, lets the batch in progress finish and waits for
// the goroutine to return. Callers that submit afterwards get ErrClosed.
func (b *batcher) close() {
	close(b.stop)
	<-b.stopped
}

// submit queues one item and waits for its outcome. ctx bounds the wait
// for a place in a batch. Once the batcher took the item, submit waits for
// the outcome whatever ctx does: the item is then in a transaction being
// committed, and abandoning a commit in flight would leave the caller
// unsure whether its write took effect.
func (b *batcher) submit(ctx context.Context, check func(tx kv.Tx) (func(tx kv.Tx) error, error)) error {
	return b.submitFetch(ctx, nil, check)
}

// submitFetch is submit for an item that names what it reads (batchItem.fetch).
func (b *batcher) submitFetch(ctx context.Context, fetch []kv.Fetch, check func(tx kv.Tx) (func(tx kv.Tx) error, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write not queued: %w", err)
	}
	it := &batchItem{check: check, fetch: fetch, done: make(chan error, 1)}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case b.items <- it:
	case <-b.stop:
		return fmt.Errorf("%w: write refused", ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("write not queued: %w", ctx.Err())
	}
	return <-it.done
}

func (b *batcher) run(db *DB) {
	defer close(b.stopped)
	last := 0
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		var first *batchItem
		select {
		case <-b.stop:
			return
		case first = <-b.items:
		}
		batch := b.collect(first, last)
		db.commitBatch(b.ctx, batch)
		last = len(batch)
	}
}

// collect returns first together with the items queued behind it. When the
// previous batch held several items, callers are arriving together: then it
// waits up to batchWindow for as many items as the previous batch had, or
// as are waiting now, whichever is larger.
func (b *batcher) collect(first *batchItem, last int) []*batchItem {
	batch := []*batchItem{first}
	for len(batch) < b.limit {
		select {
		case it := <-b.items:
			batch = append(batch, it)
			continue
		default:
		}
		break
	}
	if last <= 1 {
		return batch
	}
	target := min(b.limit, max(last, int(b.waiting.Load())))
	if len(batch) >= target {
		return batch
	}
	timer := time.NewTimer(batchWindow)
	defer timer.Stop()
	for len(batch) < target {
		select {
		case it := <-b.items:
			batch = append(batch, it)
		case <-timer.C:
			return batch
		case <-b.stop:
			return batch
		}
	}
	return batch
}

// commitBatch runs every item of batch in one write transaction and hands
// each caller its result. When a write or the commit itself fails, the
// whole transaction is lost; the items are then committed one by one, so
// that a fault belongs to the item that caused it.
func (db *DB) commitBatch(ctx context.Context, batch []*batchItem) {
	errs := make([]error, len(batch))
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		wrote := false
		clear(errs) // a retried transaction judges every item afresh
		if err := prefetchBatch(tx, batch); err != nil {
			return nil, err
		}
		for i, it := range batch {
			write, err := it.check(tx)
			if err != nil {
				errs[i] = err
				continue
			}
			if err := write(tx); err != nil {
				return nil, err
			}
			wrote = true
		}
		if !wrote {
			return nil, errNothingWritten
		}
		return nil, nil
	})
	switch {
	case err == nil:
		db.batch.commits.Add(1)
	case errors.Is(err, errNothingWritten):
	case ctx.Err() != nil:
		// The caller gave up: no item is to blame, and none would commit
		// one by one either.
		for i := range errs {
			errs[i] = err
		}
	case len(batch) > 1:
		db.log.Warn("group commit failed; committing its items one by one", "items", len(batch), "err", err)
		for _, it := range batch {
			db.commitBatch(ctx, []*batchItem{it})
		}
		return
	default:
		errs[0] = err
	}
	for i, it := range batch {
		it.done <- errs[i]
	}
}

// prefetchBatch reads what the items of batch name in one request, on a
// backend whose transactions prefetch (etcd); elsewhere it does nothing.
func prefetchBatch(tx kv.Tx, batch []*batchItem) error {
	p, ok := tx.(kv.Prefetcher)
	if !ok {
		return nil
	}
	var all []kv.Fetch
	for _, it := range batch {
		all = append(all, it.fetch...)
	}
	if len(all) == 0 {
		return nil
	}
	return p.Prefetch(all...)
}
