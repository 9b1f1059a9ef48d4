package etcdkv

import (
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Prefetch reads the keys and prefixes named, at the transaction's
// revision, in one etcd request of up to the op limit's reads each. The
// results go to the read cache without being checked: a later Get checks
// the key it reads, a later Scan of a prefix records its range, exactly as
// if they had gone to the network. A prefix with more keys than one page
// is left for its Scan to read.
func (t *etcdTx) Prefetch(fetches ...kv.Fetch) error {
	if t.err != nil {
		return t.err
	}
	type want struct{ key, end string } // end empty: one key
	var wants []want
	seen := make(map[want]bool)
	add := func(w want) {
		if !seen[w] {
			seen[w] = true
			wants = append(wants, w)
		}
	}
	for _, f := range fetches {
		prefix := t.b.bucketPrefix(f.Bucket)
		one := func(key, prefix string) {
			_, written := t.writes[key]
			_, read := t.reads[key]
			if !written && !read && !t.loaded[prefix] {
				add(want{key: key})
			}
		}
		for _, k := range f.Keys {
			one(prefix+string(k), prefix)
		}
		if f.Sequence {
			one(t.b.seqKey(f.Bucket), t.b.prefix+"/seq/")
		}
		for _, p := range f.Prefixes {
			start := prefix + string(p)
			end := clientv3.GetPrefixRangeEnd(start)
			if _, ok := t.fetched[[2]string{start, end}]; !ok {
				add(want{key: start, end: end})
			}
		}
	}
	per := max(1, t.b.maxOps)
	for len(wants) > 0 {
		n := min(len(wants), per)
		ops := make([]clientv3.Op, n)
		for i, w := range wants[:n] {
			var opts []clientv3.OpOption
			if w.end != "" {
				opts = append(opts, clientv3.WithRange(w.end), clientv3.WithLimit(etcdPage))
			}
			if t.rev > 0 {
				opts = append(opts, clientv3.WithRev(t.rev))
			}
			ops[i] = clientv3.OpGet(w.key, opts...)
		}
		ctx, cancel := t.b.reqCtx(t.ctx)
		t.b.requests.Add(1)
		resp, err := t.b.cli.Txn(ctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			t.fail(err)
			return t.err
		}
		if t.rev == 0 {
			t.rev = resp.Header.Revision
		}
		for i, w := range wants[:n] {
			rr := resp.Responses[i].GetResponseRange()
			if w.end == "" {
				r := etcdRead{}
				if len(rr.Kvs) > 0 {
					r = etcdRead{value: rr.Kvs[0].Value, modRev: rr.Kvs[0].ModRevision}
				}
				t.remember(w.key, r)
				continue
			}
			if rr.More {
				continue
			}
			keys := make([]string, len(rr.Kvs))
			for j, kv := range rr.Kvs {
				keys[j] = string(kv.Key)
				t.remember(keys[j], etcdRead{value: kv.Value, modRev: kv.ModRevision})
			}
			if t.fetched == nil {
				t.fetched = make(map[[2]string][]string)
			}
			t.fetched[[2]string{w.key, w.end}] = keys
		}
		wants = wants[n:]
	}
	return nil
}
