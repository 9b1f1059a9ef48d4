package store

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	bolt "go.etcd.io/bbolt"
)

// AllocateSerial returns a new certificate serial number. The high 64 bits
// are a counter persisted (and fsynced) before the number is returned, so no
// serial is handed out twice, not even across a crash; the low 64 bits come
// from crypto/rand, so serials cannot be predicted (RFC 5280 asks for
// unpredictable serials; CA/B Forum rules ask for 64 random bits). The
// result is positive and at most 16 octets, within RFC 5280's 20.
// Concurrent calls share one commit (see CompleteEnrolment), so issuing
// many certificates at once does not cost one fsync per serial.
func (db *DB) AllocateSerial() (*big.Int, error) {
	var counter uint64
	err := db.batch.submit(func(tx *bolt.Tx) (func(tx *bolt.Tx) error, error) {
		meta := tx.Bucket(bucketMeta)
		next := uint64(0)
		if raw := meta.Get(keySerial); raw != nil {
			if len(raw) != 8 {
				return nil, fmt.Errorf("serial counter holds %d bytes, want 8", len(raw))
			}
			next = binary.BigEndian.Uint64(raw)
		}
		if next == math.MaxUint64 {
			return nil, fmt.Errorf("serial counter exhausted")
		}
		next++
		return func(tx *bolt.Tx) error {
			counter = next
			return tx.Bucket(bucketMeta).Put(keySerial, binary.BigEndian.AppendUint64(nil, next))
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("allocate serial: %w", mapBoltErr(err))
	}
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return nil, fmt.Errorf("allocate serial: %w", err)
	}
	s := new(big.Int).SetUint64(counter)
	s.Lsh(s, 64)
	return s.Or(s, new(big.Int).SetBytes(random[:])), nil
}
