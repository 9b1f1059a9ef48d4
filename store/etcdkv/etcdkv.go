// Package etcdkv keeps the registry's buckets in an etcd cluster shared by
// several hosts. Each bucket is a key range under the prefix:
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
//
// Besides, the backend keeps a local copy of the layout's Local buckets,
// fed by one etcd watch (copy.go, watch.go): reads of a broker's CONNECT
// are served from it, and the watch hands every change, whoever wrote it,
// to the callback given to Open.
package etcdkv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Backend is a registry on etcd with its local copy.
type Backend struct {
	cli     *clientv3.Client
	prefix  string
	name    string
	timeout time.Duration
	maxOps  int // etcd's --max-txn-ops
	log     *slog.Logger
	copy    *localCopy
	claims  claimer

	lastCommit atomic.Int64  // revision of this process's latest commit
	conflicts  atomic.Uint64 // write transactions run again after a conflict
	requests   atomic.Uint64 // reads and commits of transactions sent to etcd (round trips)
	commits    atomic.Uint64 // write transactions committed
	closed     atomic.Bool
}

var (
	_ kv.Backend        = (*Backend)(nil)
	_ kv.Checker        = (*Backend)(nil)
	_ kv.Limits         = (*Backend)(nil)
	_ kv.ChangeSource   = (*Backend)(nil)
	_ kv.LocalViewer    = (*Backend)(nil)
	_ kv.SessionClaimer = (*Backend)(nil)
	_ kv.HealthReporter = (*Backend)(nil)
)

var errClosed = fmt.Errorf("%w: etcd registry", kv.ErrClosed)

// Open connects to the cluster, creates the schema key when the prefix is
// empty (or checks it), loads the local copy of l.Local and starts the
// watch that keeps it current; log may be nil. onChange receives, in revision order, every
// change to the copied buckets and every session claim; it runs on the
// watch's goroutine and must not block or read the backend.
func Open(o Options, l kv.Layout, log *slog.Logger, onChange func([]kv.RawChange)) (*Backend, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          o.Timeout,
		DialKeepAliveTime:    o.Heartbeat * 5,
		DialKeepAliveTimeout: o.Timeout,
		TLS:                  o.TLS,
		Username:             o.Username,
		Password:             o.Password,
		Logger:               zap.NewNop(), // failures reach our log through the errors
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	b := &Backend{cli: cli, prefix: o.Prefix, timeout: o.Timeout, maxOps: o.MaxTxnOps, log: log,
		name: "etcd://" + strings.Join(o.Endpoints, ",") + o.Prefix}
	// Open has no caller's context: the request timeout bounds each
	// request of the opening.
	if err := b.initSchema(context.Background(), l.Version); err != nil {
		_ = cli.Close()
		return nil, err
	}
	b.copy = newCopy(b, l, o, onChange)
	if err := b.copy.init(context.Background()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("load registry from etcd: %w", err)
	}
	b.copy.start()
	return b, nil
}

// Name is the cluster and prefix as a URL, etcd://<endpoints><prefix>.
func (b *Backend) Name() string { return b.name }

// Prefix is the registry's key prefix.
func (b *Backend) Prefix() string { return b.prefix }

// Revision is the revision the local copy holds.
func (b *Backend) Revision() int64 { return b.copy.revision() }

// Close stops the session claims and the watch, then the client. Later
// calls do nothing.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.claims.stop()
	b.copy.stop()
	return b.cli.Close()
}

// Check reports only whether the backend is open: etcd checks its own
// storage.
func (b *Backend) Check() error {
	if b.closed.Load() {
		return errClosed
	}
	return nil
}

// BatchLimit is how many enrollments fit in one transaction under the
// cluster's --max-txn-ops (14 under etcd's default of 128): the shared
// audit sequence and group take two operations, each enrollment up to
// enrolmentOps. A batch that still does not fit is committed item by
// item.
func (b *Backend) BatchLimit() int { return max(1, (b.maxOps-2)/enrolmentOps) }

// TxnLimit is the cluster's --max-txn-ops.
func (b *Backend) TxnLimit() int { return b.maxOps }

// bucketKey is the etcd key of one record.
func (b *Backend) bucketKey(bucket, key []byte) string {
	return b.prefix + "/b/" + string(bucket) + "/" + string(key)
}

// seqKey is the etcd key of one bucket's NextSequence counter.
func (b *Backend) seqKey(bucket []byte) string {
	return b.prefix + "/seq/" + string(bucket)
}

// bucketPrefix is the etcd key prefix of one bucket.
func (b *Backend) bucketPrefix(bucket []byte) string {
	return b.prefix + "/b/" + string(bucket) + "/"
}

// reqCtx returns the context of one request: the caller's ctx, bounded
// by the request timeout.
func (b *Backend) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}

// initSchema writes the schema version into an empty prefix, or checks it.
func (b *Backend) initSchema(ctx context.Context, version int) error {
	ctx, cancel := b.reqCtx(ctx)
	defer cancel()
	key := b.prefix + "/schema"
	want := strconv.Itoa(version)
	resp, err := b.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, want)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("open registry on etcd: %w (check the endpoints, the TLS settings and that the cluster has a leader)", mapErr(err))
	}
	if resp.Succeeded {
		return nil
	}
	got := string(resp.Responses[0].GetResponseRange().Kvs[0].Value)
	if got != want {
		return fmt.Errorf("%w: etcd prefix %s has version %q, this build reads version %d; use a matching fleetgate release", kv.ErrSchema, b.prefix, got, version)
	}
	return nil
}
