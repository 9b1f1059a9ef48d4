package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// mirroredBuckets are the buckets an etcd registry keeps a local copy of:
// what a broker reads on CONNECT (Lookup, Device, Group).
var mirroredBuckets = [][]byte{bucketDevices, bucketCerts, bucketGroups}

// mirror is the local copy of the mirrored buckets, kept current by one
// etcd watch over the registry's keys, and the source of the change feed.
type mirror struct {
	db        *DB
	kv        *etcdKV
	grace     time.Duration
	heartbeat time.Duration

	mu      sync.RWMutex
	data    map[string]map[string][]byte // bucket -> key -> record
	rev     int64                        // every event up to rev is applied
	advance chan struct{}                // closed and replaced when rev grows

	lastHeard atomic.Int64 // unix ns of the watch's latest answer
	resyncs   atomic.Uint64
	reachable atomic.Bool
	pastGrace atomic.Bool

	watchMu  sync.Mutex
	watchCtx context.Context // the current watch's context, for RequestProgress

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startMirror loads the mirrored buckets and starts the watch.
func startMirror(db *DB, kv *etcdKV, eo EtcdOptions) (*mirror, error) {
	m := &mirror{db: db, kv: kv, grace: eo.Grace, heartbeat: eo.Heartbeat, advance: make(chan struct{})}
	data, rev, err := m.load()
	if err != nil {
		return nil, fmt.Errorf("load registry from etcd: %w", err)
	}
	m.data, m.rev = data, rev
	m.start()
	return m, nil
}

// start runs the watch and the heartbeat from the copy's revision.
func (m *mirror) start() {
	m.heard()
	m.reachable.Store(true)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(2)
	go m.run()
	go m.beat()
}

func (m *mirror) stop() {
	m.cancel()
	m.wg.Wait()
}

// heard records an answer of the watch. Reachability runs on the wall
// clock, not the registry's (tests set that one).
func (m *mirror) heard() { m.lastHeard.Store(time.Now().UnixNano()) }

// age is how long the watch has not answered.
func (m *mirror) age() time.Duration {
	return time.Since(time.Unix(0, m.lastHeard.Load()))
}

func (m *mirror) revision() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

// load reads every mirrored bucket at one revision.
func (m *mirror) load() (map[string]map[string][]byte, int64, error) {
	tx := &etcdTx{kv: m.kv, readOnly: true}
	data := make(map[string]map[string][]byte, len(mirroredBuckets))
	for _, name := range mirroredBuckets {
		recs := make(map[string][]byte)
		err := tx.Bucket(name).ForEach(func(k, v []byte) error {
			recs[string(k)] = v
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		data[string(name)] = recs
	}
	if tx.rev == 0 { // nothing was read: cannot happen, ForEach reads
		return nil, 0, fmt.Errorf("%w: no revision", ErrUnavailable)
	}
	return data, tx.rev, nil
}

// run keeps one watch open from the mirror's revision, reopening it when it
// ends (a member lost its leader, the connection broke) and resyncing when
// etcd compacted past it.
func (m *mirror) run() {
	defer m.wg.Done()
	wait := 50 * time.Millisecond
	for m.ctx.Err() == nil {
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(m.ctx))
		m.watchMu.Lock()
		m.watchCtx = wctx
		m.watchMu.Unlock()
		from := m.revision() + 1
		wch := m.kv.cli.Watch(wctx, m.kv.prefix+"/b/", clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
		healthy := false
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				m.resync(resp.CompactRevision)
				break
			}
			if err := resp.Err(); err != nil {
				m.db.log.Warn("registry watch ended; reopening", "err", err, "revision", from-1)
				break
			}
			healthy = true
			m.apply(resp)
		}
		wcancel()
		if healthy {
			wait = 50 * time.Millisecond
		}
		select {
		case <-m.ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// beat asks the watch to confirm its revision every heartbeat and reports
// changes of reachability in the log.
func (m *mirror) beat() {
	defer m.wg.Done()
	t := time.NewTicker(m.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		m.watchMu.Lock()
		wctx := m.watchCtx
		m.watchMu.Unlock()
		if wctx != nil {
			rctx, cancel := context.WithTimeout(wctx, m.heartbeat)
			_ = m.kv.cli.RequestProgress(rctx) // the answer arrives on the watch
			cancel()
		}
		m.judge()
	}
}

// judge updates and logs the reachability state from the watch's age.
func (m *mirror) judge() {
	age := m.age()
	switch down := age > 3*m.heartbeat; {
	case down && m.reachable.CompareAndSwap(true, false):
		m.db.log.Warn("registry unreachable; judging devices from the local copy",
			"silent_for", age.Round(time.Millisecond), "grace", m.grace, "revision", m.revision())
	case !down && m.reachable.CompareAndSwap(false, true):
		m.db.log.Info("registry reachable again", "revision", m.revision())
	}
	switch past := age > m.grace; {
	case past && m.pastGrace.CompareAndSwap(false, true):
		m.db.log.Error("registry unreachable past the grace period; refusing every device until it answers",
			"silent_for", age.Round(time.Millisecond), "grace", m.grace)
	case !past:
		m.pastGrace.Store(false)
	}
}

// apply folds one watch response into the copy and publishes the status
// changes it holds, in revision order.
func (m *mirror) apply(resp clientv3.WatchResponse) {
	m.heard()
	var changes []Change
	m.mu.Lock()
	for _, ev := range resp.Events {
		bucket, key, ok := m.split(string(ev.Kv.Key))
		if !ok {
			continue
		}
		if bucket == string(bucketSessions) && isPut(ev) {
			changes = append(changes, sessionChange(ev, key))
			continue
		}
		recs := m.data[bucket]
		if recs == nil {
			continue // not mirrored
		}
		old := recs[key]
		if !isPut(ev) {
			delete(recs, key)
			continue
		}
		recs[key] = ev.Kv.Value
		if ch, ok := m.change(bucket, old, ev.Kv.Value); ok {
			changes = append(changes, ch)
		}
	}
	if resp.Header.Revision > m.rev {
		m.rev = resp.Header.Revision
		close(m.advance)
		m.advance = make(chan struct{})
	}
	m.mu.Unlock()
	m.db.feed.publish(changes)
}

// split returns the bucket and key of an etcd key under the prefix.
func (m *mirror) split(k string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(k, m.kv.prefix+"/b/")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

// change returns the feed event for a record that went from old (nil when
// new) to cur, if its status changed.
func (m *mirror) change(bucket string, old, cur []byte) (Change, bool) {
	switch bucket {
	case string(bucketDevices):
		var was, d Device
		if decode(cur, &d) != nil {
			return Change{}, false
		}
		if old != nil && decode(old, &was) == nil && was.Status == d.Status {
			return Change{}, false
		}
		if old == nil && d.Status == DeviceActive {
			return Change{}, false
		}
		return Change{Kind: ChangeDevice, DeviceID: d.ID, DeviceStatus: d.Status, Time: d.UpdatedAt}, true
	case string(bucketCerts):
		var was, c Certificate
		if decode(cur, &c) != nil {
			return Change{}, false
		}
		if old != nil && decode(old, &was) == nil && was.Status == c.Status {
			return Change{}, false
		}
		if old == nil && c.Status == CertActive {
			return Change{}, false
		}
		at := c.RevokedAt
		if at.IsZero() {
			at = m.db.clock()
		}
		return Change{Kind: ChangeCert, DeviceID: c.DeviceID, Serial: c.Serial, CertStatus: c.Status, Time: at}, true
	}
	return Change{}, false
}

// resync replaces the copy with a fresh read after the watch fell behind
// etcd's compaction, and publishes every status that differs: revocations
// made while the watch was behind are not lost.
func (m *mirror) resync(compacted int64) {
	for m.ctx.Err() == nil {
		data, rev, err := m.load()
		if err != nil {
			m.db.log.Warn("registry resync failed; retrying", "err", err)
			select {
			case <-m.ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		var changes []Change
		m.mu.Lock()
		for _, name := range mirroredBuckets {
			b := string(name)
			keys := make([]string, 0, len(data[b]))
			for k := range data[b] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if ch, ok := m.change(b, m.data[b][k], data[b][k]); ok {
					changes = append(changes, ch)
				}
			}
		}
		from := m.rev
		m.data = data
		if rev > m.rev {
			m.rev = rev
			close(m.advance)
			m.advance = make(chan struct{})
		}
		m.mu.Unlock()
		m.heard()
		m.resyncs.Add(1)
		m.db.log.Warn("registry watch fell behind etcd's compaction; resynced from a fresh read",
			"from_revision", from, "compacted_at", compacted, "revision", rev, "status_changes", len(changes))
		m.db.feed.publish(changes)
		return
	}
}

// view runs fn on the local copy. It first waits, briefly, until the copy
// holds this process's own latest commit, so that a caller reads what it
// just wrote. Past the grace period without news from etcd it refuses.
func (m *mirror) view(fn func(tx kvTx) error) error {
	if m.kv.closed.Load() {
		return errEtcdClosed
	}
	if want := m.kv.lastCommit.Load(); want > 0 && !m.waitFor(want) {
		return m.kv.view(fn) // the watch lags: read from the cluster
	}
	if age := m.age(); age > m.grace {
		return fmt.Errorf("%w: no answer from etcd for %s (grace %s)", ErrUnavailable, age.Round(time.Second), m.grace)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(memTx{m.data})
}

// waitFor waits up to the request timeout for the copy to reach rev.
func (m *mirror) waitFor(rev int64) bool {
	timer := time.NewTimer(m.kv.timeout)
	defer timer.Stop()
	for {
		m.mu.RLock()
		cur, advance := m.rev, m.advance
		m.mu.RUnlock()
		if cur >= rev {
			return true
		}
		select {
		case <-advance:
		case <-timer.C:
			return false
		case <-m.ctx.Done():
			return false
		}
	}
}

// memTx reads the local copy. Buckets that are not mirrored read empty
// (a certificate read from the copy has no DER).
type memTx struct{ data map[string]map[string][]byte }

func (t memTx) Bucket(name []byte) kvBucket { return memBucket{t.data[string(name)]} }

type memBucket struct{ recs map[string][]byte }

var errReadOnlyCopy = fmt.Errorf("%w: write to the registry's local copy", ErrInvalid)

func (b memBucket) Get(key []byte) []byte         { return b.recs[string(key)] }
func (b memBucket) Put(_, _ []byte) error         { return errReadOnlyCopy }
func (b memBucket) Delete(_ []byte) error         { return errReadOnlyCopy }
func (b memBucket) NextSequence() (uint64, error) { return 0, errReadOnlyCopy }

func (b memBucket) sorted(desc bool) []string {
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

func (b memBucket) ForEach(fn func(k, v []byte) error) error { return b.Scan(nil, fn) }

func (b memBucket) Scan(prefix []byte, fn func(k, v []byte) error) error {
	for _, k := range b.sorted(false) {
		if strings.HasPrefix(k, string(prefix)) {
			if err := fn([]byte(k), b.recs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b memBucket) Ascend(from []byte, fn func(k, v []byte) (bool, error)) error {
	for _, k := range b.sorted(false) {
		if k >= string(from) {
			if more, err := fn([]byte(k), b.recs[k]); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

func (b memBucket) Descend(fn func(k, v []byte) (bool, error)) error {
	for _, k := range b.sorted(true) {
		if more, err := fn([]byte(k), b.recs[k]); err != nil || !more {
			return err
		}
	}
	return nil
}

// Health is the registry's connection state, for metrics and readiness.
type Health struct {
	Backend string `json:"backend"` // "bolt" or "etcd"
	// Reachable: the etcd watch answered within three heartbeats. Always
	// true on bolt.
	Reachable bool `json:"reachable"`
	// PastGrace: etcd has been silent for longer than the grace period;
	// lookups fail with ErrUnavailable.
	PastGrace   bool          `json:"past_grace"`
	LastContact time.Time     `json:"last_contact,omitzero"`
	Grace       time.Duration `json:"grace,omitempty"`
	Revision    int64         `json:"revision,omitempty"` // of the local copy
	Resyncs     uint64        `json:"resyncs"`            // after compaction
	Conflicts   uint64        `json:"conflicts"`          // write transactions retried
}

// Health reports the registry's connection state.
func (db *DB) Health() Health {
	e, ok := db.kv.(*etcdKV)
	if !ok {
		return Health{Backend: "bolt", Reachable: true}
	}
	m := e.mirror
	m.judge()
	return Health{
		Backend: "etcd", Reachable: m.reachable.Load(), PastGrace: m.pastGrace.Load(),
		LastContact: time.Unix(0, m.lastHeard.Load()).UTC(), Grace: m.grace,
		Revision: m.revision(), Resyncs: m.resyncs.Load(), Conflicts: e.conflicts.Load(),
	}
}

// viewLocal runs fn where a broker reads on CONNECT: the bbolt file, or the
// local copy of an etcd registry.
// On etcd a record missing from the copy is looked for in the cluster
// before the caller hears ErrNotFound: a device enrolled through another
// host a moment ago may connect before the watch brought its certificate.
// Only holders of a certificate from the device CA get this far on a
// broker, so misses do not let strangers load etcd.
func (db *DB) viewLocal(fn func(tx kvTx) error) error {
	e, ok := db.kv.(*etcdKV)
	if !ok || e.mirror == nil {
		return db.view(fn)
	}
	err := e.mirror.view(fn)
	if errors.Is(err, ErrNotFound) && e.mirror.age() <= e.mirror.grace {
		return db.view(fn)
	}
	return err
}
