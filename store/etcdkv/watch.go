package etcdkv

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// start runs the watch and the heartbeat from the copy's revision.
func (c *localCopy) start() {
	c.heard()
	c.reachable.Store(true)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(2)
	go c.run()
	go c.beat()
}

func (c *localCopy) stop() {
	if c.cancel == nil {
		return // never started
	}
	c.cancel()
	c.wg.Wait()
}

// run keeps one watch open from the copy's revision, reopening it when it
// ends (a member lost its leader, the connection broke) and resyncing when
// etcd compacted past it.
func (c *localCopy) run() {
	defer c.wg.Done()
	wait := 50 * time.Millisecond
	for c.ctx.Err() == nil {
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(c.ctx))
		c.watchMu.Lock()
		c.watchCtx = wctx
		c.watchMu.Unlock()
		from := c.revision() + 1
		wch := c.b.cli.Watch(wctx, c.b.prefix+"/b/", clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
		healthy := false
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				c.resync(resp.CompactRevision)
				break
			}
			if err := resp.Err(); err != nil {
				c.b.log.Warn("registry watch ended; reopening", "err", err, "revision", from-1)
				break
			}
			healthy = true
			c.apply(resp)
		}
		wcancel()
		if healthy {
			wait = 50 * time.Millisecond
		}
		select {
		case <-c.ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// apply folds one watch response into the copy, then reports its changes
// in revision order, then announces the revision: whoever waits for a
// revision finds its changes reported.
func (c *localCopy) apply(resp clientv3.WatchResponse) {
	c.heard()
	var changes []kv.RawChange
	now := time.Now().UTC()
	c.mu.Lock()
	for _, ev := range resp.Events {
		bucket, key, ok := c.split(string(ev.Kv.Key))
		if !ok {
			continue
		}
		put := ev.Type == mvccpb.PUT
		if (bucket == c.sessions || bucket == c.barriers) && put {
			changes = append(changes, kv.RawChange{Bucket: bucket, Key: key, New: ev.Kv.Value, Revision: ev.Kv.ModRevision, Time: now})
			continue
		}
		recs := c.data[bucket]
		if recs == nil {
			continue // not copied
		}
		ch := kv.RawChange{Bucket: bucket, Key: key, Old: recs[key], Revision: ev.Kv.ModRevision, Time: now}
		if put {
			recs[key] = ev.Kv.Value
			ch.New = ev.Kv.Value
		} else {
			delete(recs, key)
		}
		changes = append(changes, ch)
	}
	c.mu.Unlock()
	if len(changes) > 0 {
		c.onChange(changes)
	}
	c.advanceTo(resp.Header.Revision)
}

// split returns the bucket and key of an etcd key under the prefix.
func (c *localCopy) split(k string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(k, c.b.prefix+"/b/")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

// resync replaces the copy with a fresh read after the watch fell behind
// etcd's compaction, and reports every record that differs: revocations
// made while the watch was behind are not lost. Records deleted meanwhile
// are dropped from the copy without a report.
func (c *localCopy) resync(compacted int64) {
	for c.ctx.Err() == nil {
		data, rev, err := c.load(c.ctx)
		if err != nil {
			c.b.log.Warn("registry resync failed; retrying", "err", err)
			select {
			case <-c.ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		var changes []kv.RawChange
		now := time.Now().UTC()
		c.mu.Lock()
		for _, name := range c.buckets {
			b := string(name)
			keys := make([]string, 0, len(data[b]))
			for k := range data[b] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				old, cur := c.data[b][k], data[b][k]
				if old != nil && bytes.Equal(old, cur) {
					continue
				}
				changes = append(changes, kv.RawChange{Bucket: b, Key: k, Old: old, New: cur, Revision: rev, Time: now})
			}
		}
		if c.barriers != "" {
			// Barriers written while the watch was behind are gone with
			// their events: this one, after every reported change, stands
			// for them all.
			changes = append(changes, kv.RawChange{Bucket: c.barriers, Key: "resync", New: []byte{}, Revision: rev, Time: now})
		}
		from := c.rev
		c.data = data
		c.mu.Unlock()
		c.heard()
		c.resyncs.Add(1)
		c.b.log.Warn("registry watch fell behind etcd's compaction; resynced from a fresh read",
			"from_revision", from, "compacted_at", compacted, "revision", rev, "records_changed", len(changes))
		if len(changes) > 0 {
			c.onChange(changes)
		}
		c.advanceTo(rev)
		return
	}
}
