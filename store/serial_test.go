package store

import (
	"math/big"
	"path/filepath"
	"sync"
	"testing"
)

// serialHigh returns the counter half of a serial.
func serialHigh(s *big.Int) uint64 { return new(big.Int).Rsh(s, 64).Uint64() }

// checkSerial fails unless s is positive, fits RFC 5280's 20 octets and is
// new to seen.
func checkSerial(t *testing.T, s *big.Int, seen map[string]bool) {
	t.Helper()
	if s.Sign() <= 0 || len(s.Bytes()) > 20 {
		t.Fatalf("serial %s is not positive within 20 octets", s.Text(16))
	}
	key := s.Text(16)
	if seen[key] {
		t.Fatalf("serial %s handed out twice", key)
	}
	seen[key] = true
}

func TestAllocateSerial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	seen := map[string]bool{}
	var lowBits big.Int // OR of all random halves: 64 random bits must show up
	var last uint64
	for round := range 2 { // the second round runs after close and reopen
		first := true
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 500 {
			s, err := db.AllocateSerial(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkSerial(t, s, seen)
			// Within a process counters follow one another; a reopen
			// resumes above the last reserved block, skipping the rest of it.
			if high := serialHigh(s); (!first || round == 0) && high != last+1 || first && round > 0 && (high <= last || high > last+serialBlock) {
				t.Fatalf("round %d: counter %d after %d", round, high, last)
			}
			first = false
			last = serialHigh(s)
			lowBits.Or(&lowBits, new(big.Int).And(s, new(big.Int).SetUint64(^uint64(0))))
			if !isCanonicalHex(s.Text(16)) {
				t.Fatalf("serial %s is not canonical hex", s.Text(16))
			}
		}
		if err := db.Check(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct serials, want 1000", len(seen))
	}
	// Each of the 64 low bits stays zero across 1000 draws with odds 2^-1000.
	if lowBits.BitLen() != 64 || lowBits.Uint64() != ^uint64(0) {
		t.Errorf("random halves OR to %x, want all 64 bits set", lowBits.Uint64())
	}
}

func TestAllocateSerialConcurrent(t *testing.T) {
	db := openTestDB(t)
	const workers, each = 8, 50
	results := make(chan *big.Int, workers*each)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				s, err := db.AllocateSerial(t.Context())
				if err != nil {
					errs <- err
					return
				}
				results <- s
			}
		})
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	counters := map[uint64]bool{}
	for s := range results {
		checkSerial(t, s, seen)
		counters[serialHigh(s)] = true
	}
	for c := uint64(1); c <= workers*each; c++ {
		if !counters[c] {
			t.Errorf("counter %d never handed out: concurrent allocations collided", c)
		}
	}
}
