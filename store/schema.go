package store

import (
	"fmt"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is written into a new file and required of an existing one.
// Bump it whenever the bucket layout or a record's meaning changes in a way
// an older binary would misread.
const schemaVersion = 1

// initSchema stamps an empty file with the schema version and its buckets,
// or checks the version of a file that already holds data. A file with
// buckets but no version was not written by this package: refusing it is
// safer than mixing our records into someone else's data.
func initSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			empty = false
			return nil
		})
		if !empty {
			return fmt.Errorf("%w: file holds data but no schema version (want %d); is this a fleetgate registry?", ErrSchema, schemaVersion)
		}
		return createSchema(tx)
	}
	raw := meta.Get(keySchema)
	if raw == nil {
		return fmt.Errorf("%w: file has no schema version (want %d)", ErrSchema, schemaVersion)
	}
	if got, err := strconv.Atoi(string(raw)); err != nil || got != schemaVersion {
		return fmt.Errorf("%w: file has version %q, this build reads version %d; use a matching fleetgate release", ErrSchema, raw, schemaVersion)
	}
	for _, name := range coreBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: bucket %q is missing", ErrSchema, name)
		}
	}
	// A file written before enrollment existed: add the new buckets. Older
	// builds still read the file, since they never look at these buckets.
	for _, name := range addedBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// createSchema creates every bucket and records the schema version.
func createSchema(tx *bolt.Tx) error {
	for _, name := range slices.Concat(coreBuckets, addedBuckets) {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
}
