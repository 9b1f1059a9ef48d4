package boltkv

import (
	"bytes"

	"github.com/fleetgate/fleetgate/store/kv"
	bolt "go.etcd.io/bbolt"
)

// boltTx adapts a bbolt transaction.
type boltTx struct{ tx *bolt.Tx }

var (
	_ kv.Tx     = boltTx{}
	_ kv.Bucket = boltBucket{}
)

func (t boltTx) Bucket(name []byte) kv.Bucket { return boltBucket{t.tx.Bucket(name)} }

// boltBucket adapts a bbolt bucket; Get, Put, Delete, NextSequence and
// ForEach are bbolt's own.
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
