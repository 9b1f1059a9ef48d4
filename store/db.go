package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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
}

// DB is an open device registry. It is safe for concurrent use by many
// goroutines of one process.
type DB struct {
	kv   backend
	bolt *bolt.DB // the embedded file; nil on etcd
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty registry path", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create registry directory: %w", err)
	}
	// NoSync stays false: a device registered or a serial handed out must
	// survive a power cut.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s: still held after %s; is another fleetgate server running on this registry? stop it or use another file",
			ErrLocked, path, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	db := &DB{kv: boltKV{bdb}, bolt: bdb, path: path, log: opts.Logger, now: opts.Now}
	db.feed.init()
	if err := bdb.Update(initSchema); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	db.batch.start(db)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		db.log.Warn("registry file is readable by other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm())
	}
	db.log.Info("registry opened", "path", path)
	return db, nil
}

// Close lets a group commit in progress finish, closes every Watch channel,
// then the file. Later calls return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.batch.close()
		db.feed.close()
		db.closeErr = db.kv.close()
		db.log.Info("registry closed", "path", db.path)
	})
	return db.closeErr
}

// Path returns the file the registry was opened from, or the etcd URL.
func (db *DB) Path() string { return db.path }

// Check verifies the consistency of the file's pages and returns the first
// problem found. It runs in a write transaction that is rolled back: bbolt's
// check reads the freelist, which a concurrent writer would change under a
// read-only transaction.
func (db *DB) Check() error {
	if e, ok := db.kv.(*etcdKV); ok {
		if e.closed.Load() {
			return errEtcdClosed
		}
		return nil // etcd checks its own storage
	}
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return mapBoltErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	var first error
	for err := range tx.Check() { // drain: the checker goroutine blocks until read
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("registry %s is inconsistent: %w", db.path, first)
	}
	return nil
}

// view runs fn in a read-only transaction.
func (db *DB) view(fn func(tx kvTx) error) error {
	return db.kv.view(fn)
}

// update runs fn in one durable write transaction and, once it committed,
// publishes the changes fn returned. Nothing is published when fn or the
// commit fails. On etcd fn may run more than once (a transaction that
// lost a race with another host is retried on fresh reads), so fn must
// derive everything it returns from tx; there the changes reach the feed
// through etcd's watch instead, from whichever host wrote them.
func (db *DB) update(fn func(tx kvTx) ([]Change, error)) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	var changes []Change
	err := db.kv.update(func(tx kvTx) error {
		var err error
		changes, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	if db.kv.localFeed() {
		db.feed.publish(changes)
	}
	return nil
}

// backend is where the buckets are kept: the embedded bbolt file or etcd.
type backend interface {
	view(fn func(tx kvTx) error) error
	// update commits what fn wrote, or nothing when fn fails. It may run
	// fn again when the transaction conflicted with another writer.
	update(fn func(tx kvTx) error) error
	close() error
	// localFeed reports whether update's callers publish the change feed
	// (one process owns the file) or the backend does from a watch.
	localFeed() bool
	// batchLimit bounds the enrollments of one group commit.
	batchLimit() int
	// txnLimit bounds the operations of one transaction; 0: no bound.
	txnLimit() int
}

// boltKV keeps the registry in one bbolt file.
type boltKV struct{ db *bolt.DB }

func (b boltKV) view(fn func(tx kvTx) error) error {
	return mapBoltErr(b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) }))
}

func (b boltKV) update(fn func(tx kvTx) error) error {
	return mapBoltErr(b.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) }))
}

func (b boltKV) close() error    { return b.db.Close() }
func (b boltKV) localFeed() bool { return true }
func (b boltKV) batchLimit() int { return maxBatch }
func (b boltKV) txnLimit() int   { return 0 }

// mapBoltErr turns bbolt's "closed" error into ErrClosed.
func mapBoltErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// clock returns the current time in UTC without a monotonic reading, the
// form in which it comes back from the file.
func (db *DB) clock() time.Time { return db.now().UTC().Round(0) }
