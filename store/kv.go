package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// The registry's records live in named buckets of ordered keys. The code
// that reads and writes them sees a transaction through kvTx and kvBucket,
// so that the same checks and writes run on the embedded bbolt file and on
// an etcd cluster shared by several hosts (etcd.go).

// kvTx is one transaction: read-only inside view, read-write inside update.
type kvTx interface {
	// Bucket returns the named bucket; every bucket of the schema exists.
	Bucket(name []byte) kvBucket
}

// kvBucket is one bucket of a transaction. Slices returned by Get and
// passed to the scan callbacks are valid only until the transaction ends:
// copy what must outlive it.
type kvBucket interface {
	// Get returns the value stored under key, nil when absent.
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	// NextSequence returns the bucket's next sequence number, starting at 1.
	NextSequence() (uint64, error)
	// ForEach calls fn for every key in order.
	ForEach(fn func(k, v []byte) error) error
	// Scan calls fn for every key that starts with prefix, in order.
	Scan(prefix []byte, fn func(k, v []byte) error) error
	// Ascend calls fn for the keys from the first at or after from, in
	// order, while fn reports more.
	Ascend(from []byte, fn func(k, v []byte) (more bool, err error)) error
	// Descend calls fn for the keys from the last one down, while fn
	// reports more.
	Descend(fn func(k, v []byte) (more bool, err error)) error
}

// boltTx adapts a bbolt transaction.
type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Bucket(name []byte) kvBucket { return boltBucket{t.tx.Bucket(name)} }

// boltBucket adapts a bbolt bucket.
type boltBucket struct{ *bolt.Bucket }

func (b boltBucket) Scan(prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (b boltBucket) Ascend(from []byte, fn func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	for k, v := c.Seek(from); k != nil; k, v = c.Next() {
		if more, err := fn(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}

func (b boltBucket) Descend(fn func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if more, err := fn(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}
