package etcdkv

import (
	"fmt"
	"strconv"

	"github.com/fleetgate/fleetgate/store/kv"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdBucket is one bucket of an etcdTx.
type etcdBucket struct {
	tx     *etcdTx
	name   []byte
	prefix string
}

var _ kv.Bucket = (*etcdBucket)(nil)

func (b *etcdBucket) Get(key []byte) []byte { return b.tx.get(b.prefix+string(key), b.prefix) }

func (b *etcdBucket) Put(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return b.tx.put(b.prefix+string(key), value)
}

func (b *etcdBucket) Delete(key []byte) error { return b.tx.put(b.prefix+string(key), nil) }

func (b *etcdBucket) NextSequence() (uint64, error) {
	key := b.tx.b.seqKey(b.name)
	raw := b.tx.get(key, b.tx.b.prefix+"/seq/")
	if b.tx.err != nil {
		return 0, b.tx.err
	}
	var n uint64
	if raw != nil {
		var err error
		if n, err = strconv.ParseUint(string(raw), 10, 64); err != nil {
			return 0, fmt.Errorf("sequence of bucket %s: %w", b.name, err)
		}
	}
	n++
	return n, b.tx.put(key, []byte(strconv.FormatUint(n, 10)))
}

func (b *etcdBucket) ForEach(fn func(k, v []byte) error) error {
	return b.Scan(nil, fn)
}

func (b *etcdBucket) Scan(prefix []byte, fn func(k, v []byte) error) error {
	start := b.prefix + string(prefix)
	return b.tx.scanRange(start, clientv3.GetPrefixRangeEnd(start), false, func(k string, v []byte) (bool, error) {
		return true, fn([]byte(k[len(b.prefix):]), v)
	})
}

func (b *etcdBucket) Ascend(from []byte, fn func(k, v []byte) (bool, error)) error {
	return b.tx.scanRange(b.prefix+string(from), clientv3.GetPrefixRangeEnd(b.prefix), false, func(k string, v []byte) (bool, error) {
		return fn([]byte(k[len(b.prefix):]), v)
	})
}

func (b *etcdBucket) Descend(fn func(k, v []byte) (bool, error)) error {
	return b.tx.scanRange(b.prefix, clientv3.GetPrefixRangeEnd(b.prefix), true, func(k string, v []byte) (bool, error) {
		return fn([]byte(k[len(b.prefix):]), v)
	})
}
