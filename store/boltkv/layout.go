package boltkv

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/fleetgate/fleetgate/store/kv"
	bolt "go.etcd.io/bbolt"
)

// initLayout stamps an empty file with the schema version and its buckets,
// or checks the version of a file that already holds data. A file with
// buckets but no version was not written by this package: refusing it is
// safer than mixing our records into someone else's data.
func initLayout(tx *bolt.Tx, l kv.Layout) error {
	meta := tx.Bucket(l.Meta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			empty = false
			return nil
		})
		if !empty {
			return fmt.Errorf("%w: file holds data but no schema version (want %d); is this a fleetgate registry?", kv.ErrSchema, l.Version)
		}
		return createLayout(tx, l)
	}
	raw := meta.Get(l.VersionKey)
	if raw == nil {
		return fmt.Errorf("%w: file has no schema version (want %d)", kv.ErrSchema, l.Version)
	}
	if got, err := strconv.Atoi(string(raw)); err != nil || got != l.Version {
		return fmt.Errorf("%w: file has version %q, this build reads version %d; use a matching fleetgate release", kv.ErrSchema, raw, l.Version)
	}
	for _, name := range l.Core {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: bucket %q is missing", kv.ErrSchema, name)
		}
	}
	// A file written before these buckets existed: add them. Older builds
	// still read the file, since they never look at them.
	for _, name := range l.Added {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// createLayout creates every bucket and records the schema version.
func createLayout(tx *bolt.Tx, l kv.Layout) error {
	for _, name := range slices.Concat(l.Core, l.Added) {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(l.Meta).Put(l.VersionKey, []byte(strconv.Itoa(l.Version)))
}
