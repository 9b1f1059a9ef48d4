package etcdkv

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/store/kv"
)

// copyTx reads the local copy, read-only. Buckets that are not copied read
// empty.
type copyTx struct{ data map[string]map[string][]byte }

// copyBucket is one copied bucket: records by key, unordered, so the scans
// sort the keys.
type copyBucket struct{ recs map[string][]byte }

var (
	_ kv.Tx     = copyTx{}
	_ kv.Bucket = copyBucket{}
)

var errReadOnlyCopy = fmt.Errorf("%w: write to the registry's local copy", kv.ErrInvalid)

func (t copyTx) Bucket(name []byte) kv.Bucket { return copyBucket{t.data[string(name)]} }

func (b copyBucket) Get(key []byte) []byte         { return b.recs[string(key)] }
func (b copyBucket) Put(_, _ []byte) error         { return errReadOnlyCopy }
func (b copyBucket) Delete(_ []byte) error         { return errReadOnlyCopy }
func (b copyBucket) NextSequence() (uint64, error) { return 0, errReadOnlyCopy }

func (b copyBucket) sorted(desc bool) []string {
	keys := make([]string, 0, len(b.recs))
	for k := range b.recs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if desc {
		slices.Reverse(keys)
	}
	return keys
}

func (b copyBucket) ForEach(fn func(k, v []byte) error) error { return b.Scan(nil, fn) }

func (b copyBucket) Scan(prefix []byte, fn func(k, v []byte) error) error {
	for _, k := range b.sorted(false) {
		if strings.HasPrefix(k, string(prefix)) {
			if err := fn([]byte(k), b.recs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b copyBucket) Ascend(from []byte, fn func(k, v []byte) (bool, error)) error {
	for _, k := range b.sorted(false) {
		if k >= string(from) {
			if more, err := fn([]byte(k), b.recs[k]); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

func (b copyBucket) Descend(fn func(k, v []byte) (bool, error)) error {
	for _, k := range b.sorted(true) {
		if more, err := fn([]byte(k), b.recs[k]); err != nil || !more {
			return err
		}
	}
	return nil
}
