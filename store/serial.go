package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"sync"

	"github.com/fleetgate/fleetgate/store/kv"
)

// serialBlock is how many serial counters one fsynced commit reserves.
// Issuing a certificate one at a time would otherwise cost two commits
// (the serial, then the certificate); counters reserved and not handed out
// before a crash are skipped, never reused.
const serialBlock = 64

// serialPool hands out counters from the block reserved last.
type serialPool struct {
	mu         sync.Mutex
	next, last uint64 // next to hand out, last reserved (inclusive); next > last: empty
}

// AllocateSerial returns a new certificate serial number. The high 64 bits
// are a counter reserved in the registry (fsynced, in blocks of
// serialBlock) before the number is returned, so no serial is handed out
// twice, not even across a crash; the low 64 bits come from crypto/rand, so
// serials cannot be predicted (RFC 5280 asks for unpredictable serials;
// CA/B Forum rules ask for 64 random bits). The result is positive and at
// most 16 octets, within RFC 5280's 20. Within one process the counters
// of successive calls follow one another; after a restart the counter
// resumes above the last reserved block.
func (db *DB) AllocateSerial(ctx context.Context) (*big.Int, error) {
	counter, err := db.nextSerialCounter(ctx)
	if err != nil {
		return nil, fmt.Errorf("allocate serial: %w", err)
	}
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return nil, fmt.Errorf("allocate serial: %w", err)
	}
	s := new(big.Int).SetUint64(counter)
	s.Lsh(s, 64)
	return s.Or(s, new(big.Int).SetBytes(random[:])), nil
}

// nextSerialCounter hands out the next reserved counter, reserving a new
// block first when the pool is empty.
func (db *DB) nextSerialCounter(ctx context.Context) (uint64, error) {
	p := &db.serials
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == 0 || p.next > p.last {
		first, last, err := db.reserveSerials(ctx)
		if err != nil {
			return 0, err
		}
		p.next, p.last = first, last
	}
	c := p.next
	p.next++
	return c, nil
}

// reserveSerials moves the persisted counter serialBlock ahead in one
// commit and returns the reserved range.
func (db *DB) reserveSerials(ctx context.Context) (first, last uint64, err error) {
	err = db.batch.submit(ctx, func(tx kv.Tx) (func(tx kv.Tx) error, error) {
		meta := tx.Bucket(bucketMeta)
		cur := uint64(0)
		if raw := meta.Get(keySerial); raw != nil {
			if len(raw) != 8 {
				return nil, fmt.Errorf("serial counter holds %d bytes, want 8", len(raw))
			}
			cur = binary.BigEndian.Uint64(raw)
		}
		if cur > math.MaxUint64-serialBlock {
			return nil, fmt.Errorf("serial counter exhausted")
		}
		return func(tx kv.Tx) error {
			first, last = cur+1, cur+serialBlock
			return tx.Bucket(bucketMeta).Put(keySerial, binary.BigEndian.AppendUint64(nil, last))
		}, nil
	})
	return first, last, err
}
