package etcdkv

import (
	"bytes"
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdTx is one transaction on etcd: reads at one revision, writes buffered
// until commit.
type etcdTx struct {
	b        *Backend
	ctx      context.Context // the caller's: bounds every request
	readOnly bool
	rev      int64 // read revision, set by the first read
	err      error // first read failure; the transaction then fails

	reads   map[string]etcdRead    // every key read, with what it held
	checked map[string]int64       // keys read one by one: their mod revision must hold
	ranges  map[[2]string]bool     // ranges scanned: nothing in them may change
	fetched map[[2]string][]string // prefixes prefetched whole: their keys, in order
	writes  map[string]*[]byte     // buffered writes; nil value: delete
	order   []string               // write order, for a readable transaction
	misses  map[string]int         // per bucket prefix: single reads that went to the network
	loaded  map[string]bool        // bucket prefixes read whole
	buckets map[string]*etcdBucket
}

var (
	_ kv.Tx         = (*etcdTx)(nil)
	_ kv.Prefetcher = (*etcdTx)(nil)
)

type etcdRead struct {
	value  []byte // nil: absent
	modRev int64
}

func (t *etcdTx) Bucket(name []byte) kv.Bucket {
	if t.buckets == nil {
		t.buckets = make(map[string]*etcdBucket)
	}
	b := t.buckets[string(name)]
	if b == nil {
		b = &etcdBucket{tx: t, name: name, prefix: t.b.bucketPrefix(name)}
		t.buckets[string(name)] = b
	}
	return b
}

// fail records the first read failure.
func (t *etcdTx) fail(err error) {
	if t.err == nil {
		t.err = mapCtxErr(t.ctx, err)
	}
}

// get reads one key at the transaction's revision.
func (t *etcdTx) get(key string, bucketPrefix string) []byte {
	if t.err != nil {
		return nil
	}
	if w, ok := t.writes[key]; ok {
		if w == nil {
			return nil
		}
		return *w
	}
	if r, ok := t.reads[key]; ok {
		t.check(key, r.modRev)
		return r.value
	}
	if t.loaded[bucketPrefix] {
		return nil // the whole bucket was read: the key is absent
	}
	if t.readOnly && t.misses[bucketPrefix] >= etcdScanAll {
		t.loadAll(bucketPrefix)
		if r, ok := t.reads[key]; ok {
			return r.value
		}
		return nil
	}
	if t.misses == nil {
		t.misses = make(map[string]int)
	}
	t.misses[bucketPrefix]++
	ctx, cancel := t.b.reqCtx(t.ctx)
	defer cancel()
	var opts []clientv3.OpOption
	if t.rev > 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	t.b.requests.Add(1)
	resp, err := t.b.cli.Get(ctx, key, opts...)
	if err != nil {
		t.fail(err)
		return nil
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	r := etcdRead{}
	if len(resp.Kvs) > 0 {
		r = etcdRead{value: resp.Kvs[0].Value, modRev: resp.Kvs[0].ModRevision}
	}
	t.remember(key, r)
	t.check(key, r.modRev)
	return r.value
}

func (t *etcdTx) remember(key string, r etcdRead) {
	if t.reads == nil {
		t.reads = make(map[string]etcdRead)
	}
	t.reads[key] = r
}

// check makes the commit depend on key still having modRev.
func (t *etcdTx) check(key string, modRev int64) {
	if t.readOnly {
		return
	}
	if t.checked == nil {
		t.checked = make(map[string]int64)
	}
	t.checked[key] = modRev
}

// loadAll reads a whole bucket into the read cache.
func (t *etcdTx) loadAll(prefix string) {
	_ = t.scanRange(prefix, clientv3.GetPrefixRangeEnd(prefix), false, func(string, []byte) (bool, error) { return true, nil })
	if t.err == nil {
		if t.loaded == nil {
			t.loaded = make(map[string]bool)
		}
		t.loaded[prefix] = true
	}
}

func (t *etcdTx) put(key string, value []byte) error {
	if t.readOnly {
		return fmt.Errorf("%w: write in a read-only transaction", kv.ErrInvalid)
	}
	if t.writes == nil {
		t.writes = make(map[string]*[]byte)
	}
	if _, ok := t.writes[key]; !ok {
		t.order = append(t.order, key)
	}
	if value == nil {
		t.writes[key] = nil
		return nil
	}
	v := bytes.Clone(value)
	t.writes[key] = &v
	return nil
}

// commit writes the buffered changes if nothing read changed meanwhile. It
// reports false on such a conflict.
func (t *etcdTx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	var cmps []clientv3.Cmp
	for k, rev := range t.checked {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", rev))
	}
	for r := range t.ranges {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r[0]), "<", t.rev+1).WithRange(r[1]))
	}
	ops := make([]clientv3.Op, 0, len(t.order))
	for _, k := range t.order {
		if w := t.writes[k]; w != nil {
			ops = append(ops, clientv3.OpPut(k, string(*w)))
		} else {
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	ctx, cancel := t.b.reqCtx(t.ctx)
	defer cancel()
	t.b.requests.Add(1)
	resp, err := t.b.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, mapCtxErr(t.ctx, err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	t.b.commits.Add(1)
	for {
		last := t.b.lastCommit.Load()
		if resp.Header.Revision <= last || t.b.lastCommit.CompareAndSwap(last, resp.Header.Revision) {
			break
		}
	}
	return true, nil
}
