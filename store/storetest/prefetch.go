package storetest

import (
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// runPrefetch checks, on a backend whose transactions are kv.Prefetchers,
// that prefetched keys and prefixes read as without prefetching, at the
// transaction's snapshot, that what was read through them still guards the
// commit, and that what was prefetched but never read does not.
func runPrefetch(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.put(t, bucketA, "p/1", "1", "p/2", "2", "q", "q", "u", "u")
	attempts := 0
	err := f.Update(t.Context(), func(tx kv.Tx) error {
		p, ok := tx.(kv.Prefetcher)
		if !ok {
			t.Skip("the backend's transactions are no prefetchers")
		}
		attempts++
		err := p.Prefetch(kv.Fetch{Bucket: bucketA, Keys: [][]byte{[]byte("q"), []byte("u"), []byte("missing")}, Prefixes: [][]byte{[]byte("p/")}})
		if err != nil {
			return err
		}
		if attempts == 1 {
			f.put(t, bucketA, "q", "q2", "p/3", "3") // another writer, after the snapshot
		}
		b := tx.Bucket(bucketA)
		if v := b.Get([]byte("missing")); v != nil {
			t.Errorf("prefetched absent key reads %q", v)
		}
		var keys []string
		if err := b.Scan([]byte("p/"), func(k, v []byte) error {
			keys = append(keys, string(k)+"="+string(v))
			return nil
		}); err != nil {
			return err
		}
		q := string(b.Get([]byte("q")))
		if attempts == 1 && (q != "q" || len(keys) != 2) {
			t.Errorf("first attempt read q=%q %v, want its snapshot", q, keys)
		}
		return b.Put([]byte("r"), []byte(q+"|"+strings.Join(keys, ",")))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if v, _ := f.get(t, bucketA, "r"); v != "q2|p/1=1,p/2=2,p/3=3" || attempts != 2 {
		t.Errorf("r = %q after %d attempts, want the second attempt's fresh reads", v, attempts)
	}

	// A key prefetched but not read: its change does not undo the commit.
	attempts = 0
	err = f.Update(t.Context(), func(tx kv.Tx) error {
		attempts++
		if err := tx.(kv.Prefetcher).Prefetch(kv.Fetch{Bucket: bucketA, Keys: [][]byte{[]byte("u")}}); err != nil {
			return err
		}
		if attempts == 1 {
			f.put(t, bucketA, "u", "u2")
		}
		return tx.Bucket(bucketA).Put([]byte("w"), []byte("w"))
	})
	if err != nil || attempts != 1 {
		t.Errorf("Update = %v after %d attempts, want one", err, attempts)
	}
}

// runPrefetchSequence checks that a prefetched NextSequence counter reads
// as without prefetching and still guards the commit: a sequence number
// taken by another writer after the snapshot makes the transaction run
// again, so no number is handed out twice.
func runPrefetchSequence(t *testing.T, open Opener) {
	f := newFixture(t, open)
	next := func(tx kv.Tx) uint64 {
		n, err := tx.Bucket(bucketA).NextSequence()
		if err != nil {
			t.Fatalf("NextSequence: %v", err)
		}
		return n
	}
	if err := f.Update(t.Context(), func(tx kv.Tx) error { next(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	var got uint64
	err := f.Update(t.Context(), func(tx kv.Tx) error {
		p, ok := tx.(kv.Prefetcher)
		if !ok {
			t.Skip("the backend's transactions are no prefetchers")
		}
		attempts++
		if err := p.Prefetch(kv.Fetch{Bucket: bucketA, Sequence: true}); err != nil {
			return err
		}
		if attempts == 1 {
			if err := f.Update(t.Context(), func(tx kv.Tx) error { next(tx); return nil }); err != nil {
				return err
			}
		}
		got = next(tx)
		return tx.Bucket(bucketA).Put([]byte("seq"), []byte("taken"))
	})
	if err != nil || got != 3 || attempts != 2 {
		t.Errorf("NextSequence after a prefetch = %d, %v after %d attempts; want 3 on the second attempt", got, err, attempts)
	}
}
