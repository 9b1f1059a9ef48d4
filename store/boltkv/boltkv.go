// Package boltkv keeps the registry's buckets in one go.etcd.io/bbolt
// file, written by one process at a time.
package boltkv

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Backend is a registry file.
type Backend struct {
	db   *bolt.DB
	path string
}

var (
	_ kv.Backend = (*Backend)(nil)
	_ kv.Checker = (*Backend)(nil)
)

// Open opens the file at path, creating it with mode 0600 when missing, and
// stamps a new file with the layout or checks an existing one against it.
// When another process holds the file, Open returns kv.ErrLocked after
// lockTimeout: a file has one writing process, so a second server on it
// must fail fast instead of hanging.
func Open(path string, lockTimeout time.Duration, l kv.Layout) (*Backend, error) {
	// NoSync stays false: a device registered or a serial handed out must
	// survive a power cut.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s: still held after %s; is another fleetgate server running on this registry? stop it or use another file",
			kv.ErrLocked, path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return initLayout(tx, l) }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	return &Backend{db: db, path: path}, nil
}

// View runs fn in a bbolt read transaction; many run at once. A file
// does not wait on the network: ctx is only checked before the start.
func (b *Backend) View(ctx context.Context, fn func(tx kv.Tx) error) error {
	if err := started(ctx); err != nil {
		return err
	}
	return mapErr(b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) }))
}

// Update runs fn in the file's one fsynced write transaction, unless ctx
// is done before it starts.
func (b *Backend) Update(ctx context.Context, fn func(tx kv.Tx) error) error {
	if err := started(ctx); err != nil {
		return err
	}
	return mapErr(b.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) }))
}

// Close closes the file once every transaction has ended.
func (b *Backend) Close() error { return b.db.Close() }

// Check verifies the consistency of the file's pages and returns the first
// problem found. It runs in a write transaction that is rolled back: bbolt's
// check reads the freelist, which a concurrent writer would change under a
// read-only transaction.
func (b *Backend) Check() error {
	tx, err := b.db.Begin(true)
	if err != nil {
		return mapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	var first error
	for err := range tx.Check() { // drain: the checker goroutine blocks until read
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("registry %s is inconsistent: %w", b.path, first)
	}
	return nil
}

// started refuses a transaction whose caller has given up already.
func started(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry transaction not started: %w", err)
	}
	return nil
}

// mapErr turns bbolt's "closed" error into kv.ErrClosed.
func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", kv.ErrClosed, err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		// bbolt grows the file and writes its pages in the commit: either
		// fails with ENOSPC on a full disk, and the transaction is rolled
		// back, so the file keeps its last committed state.
		return fmt.Errorf("%w: %w", kv.ErrFull, err)
	}
	return err
}
