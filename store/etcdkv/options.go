package etcdkv

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Defaults of Options.
const (
	DefaultPrefix    = "/fleetgate"
	DefaultGrace     = 5 * time.Minute
	DefaultHeartbeat = time.Second
	DefaultMaxTxnOps = 128 // etcd's own default
	defaultTimeout   = 5 * time.Second
)

// Limits of transactions and reads.
const (
	// enrolmentOps is the most writes one enrollment of a group commit
	// makes (a TPM rotation: the challenge deleted and marked used, the
	// device, its EK owner, the certificate, its DER, the device index,
	// the rotation index, the audit event); its comparisons are fewer.
	// etcd refuses a transaction of more than --max-txn-ops (128 by
	// default) operations in its comparisons or its writes.
	enrolmentOps = 9
	// etcdPage is the page size of range reads.
	etcdPage = 1000
	// etcdScanAll: a read-only transaction that missed this many keys of
	// one bucket one by one loads the rest of the bucket in one range read
	// (listing all certificates reads every DER).
	etcdScanAll = 32
	// etcdAttempts bounds the retries of a conflicting write transaction.
	etcdAttempts = 50
)

// Options configure Open.
type Options struct {
	// Endpoints are the cluster's client addresses, host:port or URLs.
	Endpoints []string
	// Prefix is the key prefix of this registry; DefaultPrefix if empty.
	Prefix string
	// TLS, when set, is used to reach the cluster.
	TLS *tls.Config
	// Username and Password, when set, authenticate to the cluster.
	Username, Password string
	// Timeout bounds each request, within the caller's context; 5 s if
	// zero.
	Timeout time.Duration
	// Grace is how long devices are still judged from the local copy of
	// the registry once the cluster stopped answering; DefaultGrace if
	// zero. Past it, lookups fail with ErrUnavailable (a broker refuses
	// every device rather than admit one whose revocation it cannot see).
	Grace time.Duration
	// MaxTxnOps is the cluster's --max-txn-ops; DefaultMaxTxnOps if zero.
	// Bulk writes (token batches, factory imports) are split to fit.
	MaxTxnOps int
	// Heartbeat is how often the watch is asked to confirm it is current;
	// DefaultHeartbeat if zero. The cluster counts as unreachable after
	// three heartbeats without an answer.
	Heartbeat time.Duration
}

// withDefaults fills in the defaults and normalizes the prefix to one
// leading slash and none trailing.
func (o Options) withDefaults() (Options, error) {
	if len(o.Endpoints) == 0 {
		return o, fmt.Errorf("%w: no etcd endpoints", kv.ErrInvalid)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.MaxTxnOps <= 0 {
		o.MaxTxnOps = DefaultMaxTxnOps
	}
	return o, nil
}
