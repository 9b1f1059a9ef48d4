package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/store/boltkv"
	"github.com/fleetgate/fleetgate/store/kv"
)

// DefaultLockTimeout is how long Open waits for another process to release
// the registry file before it gives up with ErrLocked.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is ready to use.
type Options struct {
	// LockTimeout bounds the wait for the file lock; zero or negative means
	// DefaultLockTimeout. A bbolt file has one writing process, so a second
	// server on the same file must fail fast instead of hanging.
	LockTimeout time.Duration

	// Logger receives registry events; nil discards them.
	Logger *slog.Logger

	// Now returns the current time; nil means time.Now. Tests inject a clock
	// to get predictable timestamps.
	Now func() time.Time

	// ReserveBytes is the disk reserve set aside next to a bbolt file for
	// revocations on a full disk (reserve.go); zero means
	// DefaultReserveBytes, negative none.
	ReserveBytes int64
}

// withDefaults fills in the logger and the clock.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// DB is an open device registry. It is safe for concurrent use by many
// goroutines of one process.
type DB struct {
	kv   kv.Backend // the bbolt file (boltkv) or an etcd cluster (etcdkv)
	path string
	log  *slog.Logger
	now  func() time.Time

	// writeMu spans a write transaction and the publication of its changes,
	// so that watchers see changes in commit order.
	writeMu sync.Mutex

	feed      feed
	batch     batcher // group commit of enrollments, serials and challenges
	serials   serialPool
	closeOnce sync.Once
	closeErr  error

	// full is set when a write failed for want of room (ErrRegistryFull)
	// and cleared by the next write that commits (fullness.go).
	full fullness
	// reserve is disk space set aside for revocations (bbolt only).
	reserve *reserve

	// local counts the brokers of this process for AwaitEnforced where
	// the backend does not (enforce.go).
	localOnce sync.Once
	local     *localConfirmer
}

// newDB returns a registry over no backend yet, its feed ready: a backend
// that reports its changes publishes into it from the moment it opens.
func newDB(path string, opts Options) *DB {
	opts = opts.withDefaults()
	db := &DB{path: path, log: opts.Logger, now: opts.Now, reserve: &reserve{}}
	db.feed.init()
	return db
}

// Open opens the registry at path, creating the file (mode 0600) and its
// parent directory (mode 0700) when missing. A new file gets the current
// schema version; an existing one must carry it, else Open returns
// ErrSchema. When another process holds the file, Open returns ErrLocked
// after opts.LockTimeout.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty registry path", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create registry directory: %w", err)
	}
	db := newDB(path, opts)
	be, err := boltkv.Open(path, opts.LockTimeout, layout)
	if err != nil {
		return nil, err
	}
	db.kv = be
	if opts.ReserveBytes == 0 {
		opts.ReserveBytes = DefaultReserveBytes
	}
	db.reserve = openReserve(path+".reserve", opts.ReserveBytes, db.log)
	db.batch.start(db)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		db.log.Warn("registry file is readable by other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm())
	}
	db.log.Info("registry opened", "path", path)
	return db, nil
}

// Close lets a group commit in progress finish, closes every Watch channel,
// then the backend. Later calls return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.batch.close()
		db.feed.close()
		db.closeErr = db.kv.Close()
		db.log.Info("registry closed", "path", db.path)
	})
	return db.closeErr
}

// Path returns the file the registry was opened from, or the etcd URL.
func (db *DB) Path() string { return db.path }

// Check verifies the consistency of the backend's storage and returns the
// first problem found: the pages of a bbolt file; on etcd, which checks
// its own storage, only that the registry is open.
func (db *DB) Check() error {
	if c, ok := db.kv.(kv.Checker); ok {
		return c.Check()
	}
	return nil
}

// view runs fn in a read-only transaction.
func (db *DB) view(ctx context.Context, fn func(tx kv.Tx) error) error {
	return db.kv.View(ctx, fn)
}

// viewLocal runs fn where a broker reads on CONNECT: the bbolt file, or the
// local copy of an etcd registry, which looks a record missing from the
// copy up in the cluster before the caller hears ErrNotFound.
func (db *DB) viewLocal(ctx context.Context, fn func(tx kv.Tx) error) error {
	if l, ok := db.kv.(kv.LocalViewer); ok {
		return l.ViewLocal(ctx, fn)
	}
	return db.kv.View(ctx, fn)
}

// update runs fn in one durable write transaction and, once it committed,
// publishes the changes fn returned. Nothing is published when fn or the
// commit fails. On etcd fn may run more than once (a transaction that
// lost a race with another host is retried on fresh reads), so fn must
// derive everything it returns from tx; there the changes reach the feed
// through etcd's watch instead, from whichever host wrote them.
func (db *DB) update(ctx context.Context, fn func(tx kv.Tx) ([]Change, error)) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	var changes []Change
	err := db.kv.Update(ctx, func(tx kv.Tx) error {
		var err error
		changes, err = fn(tx)
		return err
	})
	db.full.observe(err)
	if err != nil {
		return err
	}
	if _, watched := db.kv.(kv.ChangeSource); !watched {
		db.feed.publish(changes)
	}
	return nil
}

// updateUnordered is update for writes that may commit side by side: on a
// backend whose changes reach the feed through its own watch (etcd) it
// holds no process-wide lock, so that several transactions of this process
// are in flight at once; elsewhere it is update.
func (db *DB) updateUnordered(ctx context.Context, fn func(tx kv.Tx) ([]Change, error)) error {
	if _, watched := db.kv.(kv.ChangeSource); !watched {
		return db.update(ctx, fn)
	}
	err := db.kv.Update(ctx, func(tx kv.Tx) error {
		_, err := fn(tx)
		return err
	})
	db.full.observe(err)
	return err
}

// batchLimit bounds the items of one group commit.
func (db *DB) batchLimit() int {
	if l, ok := db.kv.(kv.Limits); ok {
		return l.BatchLimit()
	}
	return maxBatch
}

// txnLimit bounds the operations of one transaction; 0: no bound.
func (db *DB) txnLimit() int {
	if l, ok := db.kv.(kv.Limits); ok {
		return l.TxnLimit()
	}
	return 0
}

// clock returns the current time in UTC without a monotonic reading, the
// form in which it comes back from the file.
func (db *DB) clock() time.Time { return db.now().UTC().Round(0) }
