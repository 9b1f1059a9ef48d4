package storetest

import (
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

func runTx(t *testing.T, open Opener) {
	t.Run("ok/put-get", func(t *testing.T) {
		f := newFixture(t, open)
		f.put(t, bucketA, "k1", "v1", "k2", "v2")
		if v, ok := f.get(t, bucketA, "k1"); !ok || v != "v1" {
			t.Errorf("Get(k1) = %q %v, want v1", v, ok)
		}
		if v, ok := f.get(t, bucketB, "k1"); ok {
			t.Errorf("Get(k1) of another bucket = %q, want absent", v)
		}
		f.put(t, bucketA, "k1", "v1b")
		if v, _ := f.get(t, bucketA, "k1"); v != "v1b" {
			t.Errorf("Get(k1) after overwrite = %q, want v1b", v)
		}
	})
	t.Run("ok/read-own-writes", func(t *testing.T) {
		f := newFixture(t, open)
		f.put(t, bucketA, "k", "old")
		err := f.Update(t.Context(), func(tx kv.Tx) error {
			b := tx.Bucket(bucketA)
			if err := b.Put([]byte("k"), []byte("new")); err != nil {
				return err
			}
			if got := string(b.Get([]byte("k"))); got != "new" {
				t.Errorf("Get after Put in one transaction = %q, want new", got)
			}
			if err := b.Delete([]byte("k")); err != nil {
				return err
			}
			if got := b.Get([]byte("k")); got != nil {
				t.Errorf("Get after Delete in one transaction = %q, want nil", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/delete", func(t *testing.T) {
		f := newFixture(t, open)
		f.put(t, bucketA, "k", "v")
		err := f.Update(t.Context(), func(tx kv.Tx) error {
			if err := tx.Bucket(bucketA).Delete([]byte("k")); err != nil {
				return err
			}
			return tx.Bucket(bucketA).Delete([]byte("never-there"))
		})
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if v, ok := f.get(t, bucketA, "k"); ok {
			t.Errorf("Get after Delete = %q, want absent", v)
		}
	})
	t.Run("error/rollback", func(t *testing.T) {
		f := newFixture(t, open)
		f.put(t, bucketA, "kept", "1")
		err := f.Update(t.Context(), func(tx kv.Tx) error {
			if err := tx.Bucket(bucketA).Put([]byte("lost"), []byte("1")); err != nil {
				return err
			}
			if err := tx.Bucket(bucketA).Delete([]byte("kept")); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update = %v, want the function's error", err)
		}
		if _, ok := f.get(t, bucketA, "lost"); ok {
			t.Error("a failed transaction wrote a record")
		}
		if _, ok := f.get(t, bucketA, "kept"); !ok {
			t.Error("a failed transaction deleted a record")
		}
	})
	t.Run("error/write-in-view", func(t *testing.T) {
		f := newFixture(t, open)
		err := f.View(t.Context(), func(tx kv.Tx) error {
			return tx.Bucket(bucketA).Put([]byte("k"), []byte("v"))
		})
		if err == nil {
			t.Error("Put in a read-only transaction succeeded")
		}
		if _, ok := f.get(t, bucketA, "k"); ok {
			t.Error("a read-only transaction wrote a record")
		}
	})
}

func runSequence(t *testing.T, open Opener) {
	f := newFixture(t, open)
	next := func(bucket []byte, fail bool) uint64 {
		t.Helper()
		var n uint64
		err := f.Update(t.Context(), func(tx kv.Tx) error {
			var err error
			if n, err = tx.Bucket(bucket).NextSequence(); err != nil {
				return err
			}
			if fail {
				return errAbort
			}
			return nil
		})
		if fail != errors.Is(err, errAbort) || !fail && err != nil {
			t.Fatalf("NextSequence: %v", err)
		}
		return n
	}
	for want := uint64(1); want <= 3; want++ {
		if got := next(bucketA, false); got != want {
			t.Errorf("NextSequence = %d, want %d", got, want)
		}
	}
	if got := next(bucketB, false); got != 1 {
		t.Errorf("NextSequence of another bucket = %d, want 1", got)
	}
	next(bucketA, true)
	if got := next(bucketA, false); got != 4 {
		t.Errorf("NextSequence after a rolled back one = %d, want 4", got)
	}
	err := f.Update(t.Context(), func(tx kv.Tx) error {
		a, _ := tx.Bucket(bucketA).NextSequence()
		b, err := tx.Bucket(bucketA).NextSequence()
		if a != 5 || b != 6 {
			t.Errorf("two NextSequence in one transaction = %d %d, want 5 6", a, b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
