package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The registry on etcd. Each bucket is a key range under the prefix:
//
//	<prefix>/schema           decimal schema version
//	<prefix>/seq/<bucket>     decimal sequence of NextSequence
//	<prefix>/b/<bucket>/<key> the bucket's records, as in the bbolt file
//
// A transaction reads at one revision and buffers its writes; it commits
// with one etcd Txn that holds only if nothing it read changed since that
// revision (every key read, and every range scanned), else it is run again
// on fresh reads. That is what keeps serials unique and a token consumed
// once when several provisioning hosts write at the same moment.

// Etcd defaults.
const (
	DefaultEtcdPrefix    = "/fleetgate"
	DefaultEtcdGrace     = 5 * time.Minute
	DefaultEtcdHeartbeat = time.Second
	DefaultEtcdMaxTxnOps = 128 // etcd's own default
	defaultEtcdTimeout   = 5 * time.Second
	// etcdBatch bounds the enrollments of one group commit: etcd refuses a
	// transaction of more than --max-txn-ops (128 by default) operations
	// in its comparisons or its writes, and one enrollment reads and writes
	// about ten keys.
	etcdBatch = 8
	// etcdPage is the page size of range reads.
	etcdPage = 1000
	// etcdScanAll: a read-only transaction that missed this many keys of
	// one bucket one by one loads the rest of the bucket in one range read
	// (listing all certificates reads every DER).
	etcdScanAll = 32
	// etcdAttempts bounds the retries of a conflicting write transaction.
	etcdAttempts = 50
)

// EtcdOptions configure OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the cluster's client addresses, host:port or URLs.
	Endpoints []string
	// Prefix is the key prefix of this registry; DefaultEtcdPrefix if empty.
	Prefix string
	// TLS, when set, is used to reach the cluster.
	TLS *tls.Config
	// Username and Password, when set, authenticate to the cluster.
	Username, Password string
	// Timeout bounds each request; 5 s if zero.
	Timeout time.Duration
	// Grace is how long devices are still judged from the local copy of
	// the registry once the cluster stopped answering; DefaultEtcdGrace if
	// zero. Past it, lookups fail with ErrUnavailable (a broker refuses
	// every device rather than admit one whose revocation it cannot see).
	Grace time.Duration
	// MaxTxnOps is the cluster's --max-txn-ops; DefaultEtcdMaxTxnOps if
	// zero. Bulk writes (token batches, factory imports) are split to fit.
	MaxTxnOps int
	// Heartbeat is how often the watch is asked to confirm it is current;
	// DefaultEtcdHeartbeat if zero. The cluster counts as unreachable after
	// three heartbeats without an answer.
	Heartbeat time.Duration
}

// OpenEtcd opens the registry kept in an etcd cluster, creating its schema
// key when the prefix is empty. The returned DB serves the same methods as
// one opened on a file. Besides, it keeps a local copy of the devices,
// certificates and groups, fed by an etcd watch: Lookup, Device and Group
// read it (a broker's CONNECT does not wait on the network), and the change
// feed (Watch) reports what any host changed. A watch that fell behind
// etcd's compaction is resynced from a fresh read, and the differences are
// reported, so no revocation is missed.
func OpenEtcd(eo EtcdOptions, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(eo.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no etcd endpoints", ErrInvalid)
	}
	if eo.Prefix == "" {
		eo.Prefix = DefaultEtcdPrefix
	}
	eo.Prefix = "/" + strings.Trim(eo.Prefix, "/")
	if eo.Timeout <= 0 {
		eo.Timeout = defaultEtcdTimeout
	}
	if eo.Grace <= 0 {
		eo.Grace = DefaultEtcdGrace
	}
	if eo.Heartbeat <= 0 {
		eo.Heartbeat = DefaultEtcdHeartbeat
	}
	if eo.MaxTxnOps <= 0 {
		eo.MaxTxnOps = DefaultEtcdMaxTxnOps
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            eo.Endpoints,
		DialTimeout:          eo.Timeout,
		DialKeepAliveTime:    eo.Heartbeat * 5,
		DialKeepAliveTimeout: eo.Timeout,
		TLS:                  eo.TLS,
		Username:             eo.Username,
		Password:             eo.Password,
		Logger:               zap.NewNop(), // failures reach our log through the errors
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(eo.Endpoints, ","), err)
	}
	kv := &etcdKV{cli: cli, prefix: eo.Prefix, timeout: eo.Timeout, maxOps: eo.MaxTxnOps}
	if err := kv.initSchema(); err != nil {
		_ = cli.Close()
		return nil, err
	}
	db := &DB{kv: kv, path: "etcd://" + strings.Join(eo.Endpoints, ",") + eo.Prefix, log: opts.Logger, now: opts.Now}
	db.feed.init()
	m, err := startMirror(db, kv, eo)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	kv.mirror = m
	db.batch.start(db)
	db.log.Info("registry opened", "etcd", strings.Join(eo.Endpoints, ","), "prefix", eo.Prefix, "revision", m.revision())
	return db, nil
}

// etcdKV keeps the registry in etcd.
type etcdKV struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	mirror  *mirror

	lastCommit atomic.Int64  // revision of this process's latest commit
	conflicts  atomic.Uint64 // write transactions run again after a conflict
	maxOps     int           // etcd's --max-txn-ops
	closed     atomic.Bool

	// Session claims are written in batches (session.go).
	claimsOnce sync.Once
	claimQueue chan claimReq
	claimStop  chan struct{}
}

var errEtcdClosed = fmt.Errorf("%w: etcd registry", ErrClosed)

func (e *etcdKV) localFeed() bool { return false }
func (e *etcdKV) batchLimit() int { return etcdBatch }
func (e *etcdKV) txnLimit() int   { return e.maxOps }

func (e *etcdKV) close() error {
	e.closed.Store(true)
	e.claimsOnce.Do(func() {}) // no claim goroutine starts after this
	if e.claimStop != nil {
		close(e.claimStop)
	}
	if e.mirror != nil {
		e.mirror.stop()
	}
	return e.cli.Close()
}

// bucketKey is the etcd key of one record.
func (e *etcdKV) bucketKey(bucket, key []byte) string {
	return e.prefix + "/b/" + string(bucket) + "/" + string(key)
}

// bucketPrefix is the etcd key prefix of one bucket.
func (e *etcdKV) bucketPrefix(bucket []byte) string {
	return e.prefix + "/b/" + string(bucket) + "/"
}

// ctx returns a request context bounded by the timeout.
func (e *etcdKV) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.timeout)
}

// initSchema writes the schema version into an empty prefix, or checks it.
func (e *etcdKV) initSchema() error {
	ctx, cancel := e.ctx()
	defer cancel()
	key := e.prefix + "/schema"
	want := strconv.Itoa(schemaVersion)
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, want)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("open registry on etcd: %w (check the endpoints, the TLS settings and that the cluster has a leader)", mapEtcdErr(err))
	}
	if resp.Succeeded {
		return nil
	}
	got := string(resp.Responses[0].GetResponseRange().Kvs[0].Value)
	if got != want {
		return fmt.Errorf("%w: etcd prefix %s has version %q, this build reads version %d; use a matching fleetgate release", ErrSchema, e.prefix, got, schemaVersion)
	}
	return nil
}

// electing reports whether err means the cluster is between leaders.
func electing(err error) bool {
	return errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrGRPCNoLeader) || errors.Is(err, rpctypes.ErrGRPCLeaderChanged) ||
		status.Code(err) == codes.Unavailable
}

// mapEtcdErr marks errors that mean the cluster could not be reached.
func mapEtcdErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeout) ||
		errors.Is(err, rpctypes.ErrLeaderChanged) || errors.Is(err, rpctypes.ErrGRPCNoLeader) ||
		status.Code(err) == codes.Unavailable || status.Code(err) == codes.DeadlineExceeded {
		return fmt.Errorf("%w: etcd: %w", ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "too many operations in txn request") {
		return fmt.Errorf("%w: %w (raise etcd's --max-txn-ops, or import fewer rows or create fewer tokens at once)", ErrInvalid, err)
	}
	if strings.Contains(err.Error(), "client is closing") || strings.Contains(err.Error(), "use of closed") {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("etcd: %w", err)
}

func (e *etcdKV) view(fn func(tx kvTx) error) error {
	if e.closed.Load() {
		return errEtcdClosed
	}
	tx := &etcdTx{kv: e, readOnly: true}
	err := fn(tx)
	if tx.err != nil {
		return tx.err // a failed read explains whatever fn made of it
	}
	return err
}

func (e *etcdKV) update(fn func(tx kvTx) error) error {
	if e.closed.Load() {
		return errEtcdClosed
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		tx := &etcdTx{kv: e}
		err := fn(tx)
		if err == nil && tx.err == nil {
			var ok bool
			if ok, err = tx.commit(); ok {
				return nil
			}
		}
		if tx.err != nil {
			err = tx.err
		}
		if err != nil {
			// While a new leader is elected the cluster refuses requests
			// for a moment: run the transaction again on fresh reads. Its
			// comparisons keep a transaction that did commit before the
			// error from being applied twice.
			if errors.Is(err, ErrUnavailable) && electing(err) && time.Since(start) < e.timeout {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		e.conflicts.Add(1)
		if attempt == etcdAttempts {
			return fmt.Errorf("%w: etcd transaction still conflicting after %d attempts", ErrUnavailable, attempt)
		}
		// Another host wrote what this transaction read: read again. A
		// short random pause keeps two hosts from colliding in step.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt, 20)))))
	}
}

// etcdTx is one transaction on etcd: reads at one revision, writes buffered
// until commit.
type etcdTx struct {
	kv       *etcdKV
	readOnly bool
	rev      int64 // read revision, set by the first read
	err      error // first read failure; the transaction then fails

	reads   map[string]etcdRead // every key read, with what it held
	checked map[string]int64    // keys read one by one: their mod revision must hold
	ranges  [][2]string         // ranges scanned: nothing in them may change
	writes  map[string]*[]byte  // buffered writes; nil value: delete
	order   []string            // write order, for a readable transaction
	misses  map[string]int      // per bucket prefix: single reads that went to the network
	loaded  map[string]bool     // bucket prefixes read whole
	seqs    map[string]uint64   // sequences advanced in this transaction
	buckets map[string]*etcdBucket
}

type etcdRead struct {
	value  []byte // nil: absent
	modRev int64
}

func (t *etcdTx) Bucket(name []byte) kvBucket {
	if t.buckets == nil {
		t.buckets = make(map[string]*etcdBucket)
	}
	b := t.buckets[string(name)]
	if b == nil {
		b = &etcdBucket{tx: t, name: name, prefix: t.kv.bucketPrefix(name)}
		t.buckets[string(name)] = b
	}
	return b
}

// fail records the first read failure.
func (t *etcdTx) fail(err error) {
	if t.err == nil {
		t.err = mapEtcdErr(err)
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
	ctx, cancel := t.kv.ctx()
	defer cancel()
	var opts []clientv3.OpOption
	if t.rev > 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	resp, err := t.kv.cli.Get(ctx, key, opts...)
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

// scanRange calls fn for the keys in [start, end) at the transaction's
// revision, merged with the transaction's own writes, ascending or
// descending, while fn reports more. The range is recorded so that the
// commit fails if another writer changed anything in it.
func (t *etcdTx) scanRange(start, end string, desc bool, fn func(key string, value []byte) (bool, error)) error {
	if t.err != nil {
		return t.err
	}
	if !t.readOnly {
		t.ranges = append(t.ranges, [2]string{start, end})
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
	for {
		ctx, cancel := t.kv.ctx()
		opts := []clientv3.OpOption{clientv3.WithRange(hi), clientv3.WithLimit(etcdPage)}
		if desc {
			opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		}
		if t.rev > 0 {
			opts = append(opts, clientv3.WithRev(t.rev))
		}
		resp, err := t.kv.cli.Get(ctx, lo, opts...)
		cancel()
		if err != nil {
			t.fail(err)
			return t.err
		}
		if t.rev == 0 {
			t.rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
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
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		last := string(resp.Kvs[len(resp.Kvs)-1].Key)
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

func (t *etcdTx) put(key string, value []byte) error {
	if t.readOnly {
		return fmt.Errorf("%w: write in a read-only transaction", ErrInvalid)
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
	for _, r := range t.ranges {
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
	ctx, cancel := t.kv.ctx()
	defer cancel()
	resp, err := t.kv.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, mapEtcdErr(err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	for {
		last := t.kv.lastCommit.Load()
		if resp.Header.Revision <= last || t.kv.lastCommit.CompareAndSwap(last, resp.Header.Revision) {
			break
		}
	}
	return true, nil
}

// etcdBucket is one bucket of an etcdTx.
type etcdBucket struct {
	tx     *etcdTx
	name   []byte
	prefix string
}

func (b *etcdBucket) Get(key []byte) []byte { return b.tx.get(b.prefix+string(key), b.prefix) }

func (b *etcdBucket) Put(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return b.tx.put(b.prefix+string(key), value)
}

func (b *etcdBucket) Delete(key []byte) error { return b.tx.put(b.prefix+string(key), nil) }

func (b *etcdBucket) NextSequence() (uint64, error) {
	key := b.tx.kv.prefix + "/seq/" + string(b.name)
	raw := b.tx.get(key, b.tx.kv.prefix+"/seq/")
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

// isPut reports whether a watch event wrote its key.
func isPut(ev *clientv3.Event) bool { return ev.Type == mvccpb.PUT }
