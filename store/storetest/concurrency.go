package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// runConcurrency increments one counter from many goroutines: a backend
// that lets transactions run at once must retry those that conflicted, so
// that no increment is lost.
func runConcurrency(t *testing.T, open Opener) {
	f := newFixture(t, open)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := f.Update(t.Context(), func(tx kv.Tx) error {
					b := tx.Bucket(bucketA)
					n, _ := strconv.Atoi(string(b.Get([]byte("counter"))))
					return b.Put([]byte("counter"), []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, _ := f.get(t, bucketA, "counter"); v != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s after %d increments", v, workers*each)
	}
}

// runClosed checks that a closed backend refuses transactions with
// kv.ErrClosed and runs none.
func runClosed(t *testing.T, open Opener) {
	f := newFixture(t, open)
	if err := f.close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ran := false
	if err := f.View(t.Context(), func(kv.Tx) error { ran = true; return nil }); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := f.Update(t.Context(), func(kv.Tx) error { ran = true; return nil }); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if ran {
		t.Error("a transaction ran after Close")
	}
}
