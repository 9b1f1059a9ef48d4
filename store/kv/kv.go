// Package kv is the transaction interface the registry's domain code runs
// on, and the optional capabilities a backend may add to it. Backends
// (store/boltkv, store/etcdkv) import only this package; store imports
// them and finds their capabilities by type assertion.
//
// Every method that may wait on the network takes a context.Context: a
// remote backend bounds each request by the earlier of the caller's
// context and its own request timeout, and stops retrying once the
// context is done; a local one checks the context before it starts. A
// transaction whose context ends before its commit returns an error
// wrapping ctx.Err() and writes nothing.
package kv

import "context"

// Backend is where the buckets are kept.
type Backend interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Update commits what fn wrote, or nothing when fn fails. A backend
	// shared by several writers may run fn again when its transaction
	// conflicted with another one, so fn must derive what it writes from
	// tx alone. Once ctx is done no attempt starts; a commit that ctx
	// interrupted on a remote backend may still have taken effect.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the backend. Later transactions fail with ErrClosed.
	Close() error
}

// Tx is one transaction: read-only inside View, read-write inside Update.
type Tx interface {
	// Bucket returns the named bucket; every bucket of the Layout exists.
	Bucket(name []byte) Bucket
}

// Bucket is one bucket of a transaction: keys in byte order. Slices
// returned by Get and passed to the scan callbacks are valid only until
// the transaction ends: copy what must outlive it.
type Bucket interface {
	// Get returns the value stored under key, nil when absent.
	Get(key []byte) []byte
	// Put stores value under key.
	Put(key, value []byte) error
	// Delete removes key; deleting an absent key is no error.
	Delete(key []byte) error
	// NextSequence returns the bucket's next sequence number, starting at 1.
	NextSequence() (uint64, error)
	// ForEach calls fn for every key in order.
	ForEach(fn func(k, v []byte) error) error
	// Scan calls fn for every key that starts with prefix, in order.
	Scan(prefix []byte, fn func(k, v []byte) error) error
	// Ascend calls fn for the keys from the first at or after from, in
	// order, while fn reports more.
	Ascend(from []byte, fn func(k, v []byte) (more bool, err error)) error
	// Descend calls fn for the keys from the last one down, while fn
	// reports more.
	Descend(fn func(k, v []byte) (more bool, err error)) error
}
