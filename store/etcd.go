package store

import (
	"strings"

	"github.com/fleetgate/fleetgate/store/etcdkv"
)

// Etcd defaults, as etcdkv defines them.
const (
	DefaultEtcdPrefix    = etcdkv.DefaultPrefix
	DefaultEtcdGrace     = etcdkv.DefaultGrace
	DefaultEtcdHeartbeat = etcdkv.DefaultHeartbeat
	DefaultEtcdMaxTxnOps = etcdkv.DefaultMaxTxnOps
)

// EtcdOptions configure OpenEtcd: the cluster, the key prefix, timeouts,
// the grace period of the local copy and the cluster's --max-txn-ops.
type EtcdOptions = etcdkv.Options

// OpenEtcd opens the registry kept in an etcd cluster, creating its schema
// key when the prefix is empty. The returned DB serves the same methods as
// one opened on a file. Besides, it keeps a local copy of the devices,
// certificates and groups, fed by an etcd watch: Lookup, Device and Group
// read it (a broker's CONNECT does not wait on the network), and the change
// feed (Watch) reports what any host changed. A watch that fell behind
// etcd's compaction is resynced from a fresh read, and the differences are
// reported, so no revocation is missed.
func OpenEtcd(eo EtcdOptions, opts Options) (*DB, error) {
	db := newDB("", opts)
	be, err := etcdkv.Open(eo, layout, db.log, db.publishRaw)
	if err != nil {
		return nil, err
	}
	db.kv, db.path = be, be.Name()
	db.batch.start(db)
	db.log.Info("registry opened", "etcd", strings.Join(eo.Endpoints, ","), "prefix", be.Prefix(), "revision", be.Revision())
	return db, nil
}
