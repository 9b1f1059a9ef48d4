package etcdkv

import (
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// scanRange calls fn for the keys in [start, end) at the transaction's
// revision, merged with the transaction's own writes, ascending or
// descending, while fn reports more. The range is recorded so that the
// commit fails if another writer changed anything in it.
func (t *etcdTx) scanRange(start, end string, desc bool, fn func(key string, value []byte) (bool, error)) error {
	if t.err != nil {
		return t.err
	}
	if !t.readOnly {
		if t.ranges == nil {
			t.ranges = make(map[[2]string]bool)
		}
		t.ranges[[2]string{start, end}] = true // one comparison however often scanned
	}
	// The transaction's own writes in the range, in scan order.
	var own []string
	for k := range t.writes {
		if k >= start && k < end {
			own = append(own, k)
		}
	}
	slices.Sort(own)
	if desc {
		slices.Reverse(own)
	}
	before := func(a, b string) bool { // a comes first in scan order
		if desc {
			return a > b
		}
		return a < b
	}
	lo, hi := start, end
	fetched, isFetched := t.fetched[[2]string{start, end}]
	for {
		var kvs []*mvccpb.KeyValue
		more := false
		if isFetched {
			// Prefetched at the transaction's revision: one page, from memory.
			for _, k := range fetched {
				r := t.reads[k]
				kvs = append(kvs, &mvccpb.KeyValue{Key: []byte(k), Value: r.value, ModRevision: r.modRev})
			}
			if desc {
				slices.Reverse(kvs)
			}
		} else {
			ctx, cancel := t.b.reqCtx(t.ctx)
			opts := []clientv3.OpOption{clientv3.WithRange(hi), clientv3.WithLimit(etcdPage)}
			if desc {
				opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
			}
			if t.rev > 0 {
				opts = append(opts, clientv3.WithRev(t.rev))
			}
			t.b.requests.Add(1)
			resp, err := t.b.cli.Get(ctx, lo, opts...)
			cancel()
			if err != nil {
				t.fail(err)
				return t.err
			}
			if t.rev == 0 {
				t.rev = resp.Header.Revision
			}
			kvs, more = resp.Kvs, resp.More
		}
		for _, kv := range kvs {
			k := string(kv.Key)
			t.remember(k, etcdRead{value: kv.Value, modRev: kv.ModRevision})
			// Own writes that come before this key.
			for len(own) > 0 && before(own[0], k) {
				if w := t.writes[own[0]]; w != nil {
					if more, err := fn(own[0], *w); err != nil || !more {
						return err
					}
				}
				own = own[1:]
			}
			if len(own) > 0 && own[0] == k {
				own = own[1:]
				w := t.writes[k]
				if w == nil {
					continue // deleted in this transaction
				}
				if more, err := fn(k, *w); err != nil || !more {
					return err
				}
				continue
			}
			if more, err := fn(k, kv.Value); err != nil || !more {
				return err
			}
		}
		if !more || len(kvs) == 0 {
			break
		}
		last := string(kvs[len(kvs)-1].Key)
		if desc {
			hi = last
		} else {
			lo = last + "\x00"
		}
	}
	for _, k := range own {
		if w := t.writes[k]; w != nil {
			if more, err := fn(k, *w); err != nil || !more {
				return err
			}
		}
	}
	return nil
}
