package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// scanKeys are in byte order: '/' sorts before '0'.
var scanKeys = []string{"x/1", "x/2", "x0", "y/1"}

// scanFn runs one scan and appends the keys it passed to its callback.
type scanFn func(b kv.Bucket, keys *[]string) error

func runScan(t *testing.T, open Opener) {
	upTo := func(n int, keys *[]string) func(k, _ []byte) (bool, error) {
		return func(k, _ []byte) (bool, error) {
			*keys = append(*keys, string(k))
			return len(*keys) < n, nil
		}
	}
	all := func(keys *[]string) func(k, _ []byte) error {
		return func(k, _ []byte) error {
			*keys = append(*keys, string(k))
			return nil
		}
	}
	tests := []struct {
		name string
		scan scanFn
		want []string
		// wantOwn: the same scan in a transaction that wrote x/3 and
		// deleted x/1 first.
		wantOwn []string
	}{
		{"ok/foreach", func(b kv.Bucket, keys *[]string) error { return b.ForEach(all(keys)) },
			scanKeys, []string{"x/2", "x/3", "x0", "y/1"}},
		{"ok/scan-prefix", func(b kv.Bucket, keys *[]string) error { return b.Scan([]byte("x/"), all(keys)) },
			[]string{"x/1", "x/2"}, []string{"x/2", "x/3"}},
		{"ok/scan-no-match", func(b kv.Bucket, keys *[]string) error { return b.Scan([]byte("z"), all(keys)) },
			nil, nil},
		{"ok/ascend-from", func(b kv.Bucket, keys *[]string) error { return b.Ascend([]byte("x/2"), upTo(2, keys)) },
			[]string{"x/2", "x0"}, []string{"x/2", "x/3"}},
		{"ok/ascend-between-keys", func(b kv.Bucket, keys *[]string) error { return b.Ascend([]byte("x/15"), upTo(10, keys)) },
			[]string{"x/2", "x0", "y/1"}, []string{"x/2", "x/3", "x0", "y/1"}},
		{"ok/descend", func(b kv.Bucket, keys *[]string) error { return b.Descend(upTo(3, keys)) },
			[]string{"y/1", "x0", "x/2"}, []string{"y/1", "x0", "x/3"}},
		{"ok/descend-all", func(b kv.Bucket, keys *[]string) error { return b.Descend(upTo(10, keys)) },
			[]string{"y/1", "x0", "x/2", "x/1"}, []string{"y/1", "x0", "x/3", "x/2"}},
	}
	f := newFixture(t, open)
	for _, k := range scanKeys {
		f.put(t, bucketA, k, "v:"+k)
	}
	f.put(t, bucketB, "x/9", "other bucket")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := f.View(t.Context(), func(tx kv.Tx) error { return tt.scan(tx.Bucket(bucketA), &got) }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("scan = %q, want %q", got, tt.want)
			}
			got = nil
			err := f.Update(t.Context(), func(tx kv.Tx) error {
				b := tx.Bucket(bucketA)
				if err := b.Put([]byte("x/3"), []byte("own")); err != nil {
					return err
				}
				if err := b.Delete([]byte("x/1")); err != nil {
					return err
				}
				if err := tt.scan(b, &got); err != nil {
					return err
				}
				return errAbort // leave the records for the next case
			})
			if !errors.Is(err, errAbort) {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.wantOwn) {
				t.Errorf("scan over the transaction's own writes = %q, want %q", got, tt.wantOwn)
			}
		})
	}
	t.Run("ok/values", func(t *testing.T) {
		err := f.View(t.Context(), func(tx kv.Tx) error {
			return tx.Bucket(bucketA).ForEach(func(k, v []byte) error {
				if string(v) != "v:"+string(k) {
					t.Errorf("value of %s = %q", k, v)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("error/callback", func(t *testing.T) {
		err := f.View(t.Context(), func(tx kv.Tx) error {
			return tx.Bucket(bucketA).Scan([]byte("x"), func(_, _ []byte) error { return errAbort })
		})
		if !errors.Is(err, errAbort) {
			t.Errorf("Scan = %v, want the callback's error", err)
		}
	})
}
