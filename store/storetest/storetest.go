// Package storetest is the conformance suite of the registry's backends:
// Run exercises the transaction interface of store/kv on a fresh backend
// per subtest, and each optional capability the backend has. A backend's
// own tests call it; the store's domain tests then run on top.
package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Opener opens a fresh, empty backend laid out as l. A backend that is a
// kv.ChangeSource hands its changes to onChange.
type Opener func(t *testing.T, l kv.Layout, onChange func([]kv.RawChange)) kv.Backend

// Buckets of the suite's layout: a is copied by a backend with a local
// copy, b is not, s holds session claims.
var (
	bucketA  = []byte("a")
	bucketB  = []byte("b")
	sessions = []byte("s")
)

// Layout is the layout every backend of the suite is opened with.
var Layout = kv.Layout{
	Version:    1,
	Meta:       []byte("meta"),
	VersionKey: []byte("schema"),
	Core:       [][]byte{[]byte("meta"), bucketA},
	Added:      [][]byte{bucketB},
	Local:      [][]byte{bucketA},
	Sessions:   sessions,
}

// Run runs every behaviour of the transaction interface, then a group per
// capability the backend has.
func Run(t *testing.T, open Opener) {
	t.Run("tx", func(t *testing.T) { runTx(t, open) })
	t.Run("scan", func(t *testing.T) { runScan(t, open) })
	t.Run("sequence", func(t *testing.T) { runSequence(t, open) })
	t.Run("concurrency", func(t *testing.T) { runConcurrency(t, open) })
	t.Run("closed", func(t *testing.T) { runClosed(t, open) })
	t.Run("error/cancelled", func(t *testing.T) { runCancelled(t, open) })
	t.Run("prefetch", func(t *testing.T) { runPrefetch(t, open) })
	t.Run("prefetch-sequence", func(t *testing.T) { runPrefetchSequence(t, open) })
	runCapabilities(t, open)
}

// fixture is one backend under test and the changes it reported.
type fixture struct {
	kv.Backend
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	changes []kv.RawChange
}

// newFixture opens a backend that is closed at the end of the test.
func newFixture(t *testing.T, open Opener) *fixture {
	t.Helper()
	f := &fixture{}
	f.Backend = open(t, Layout, func(c []kv.RawChange) {
		f.mu.Lock()
		f.changes = append(f.changes, c...)
		f.mu.Unlock()
	})
	t.Cleanup(func() {
		if err := f.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// close closes the backend once.
func (f *fixture) close() error {
	f.closeOnce.Do(func() { f.closeErr = f.Backend.Close() })
	return f.closeErr
}

// reported returns the changes reported so far.
func (f *fixture) reported() []kv.RawChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]kv.RawChange(nil), f.changes...)
}

// put writes records of one bucket in one transaction, key, value, ...
func (f *fixture) put(t *testing.T, bucket []byte, kvs ...string) {
	t.Helper()
	err := f.Update(t.Context(), func(tx kv.Tx) error {
		for i := 0; i+1 < len(kvs); i += 2 {
			if err := tx.Bucket(bucket).Put([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// get reads one record in a read-only transaction; "" when absent.
func (f *fixture) get(t *testing.T, bucket []byte, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := f.View(t.Context(), func(tx kv.Tx) error {
		v = tx.Bucket(bucket).Get([]byte(key))
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return string(v), v != nil
}

// errAbort is returned by a transaction that must leave nothing behind.
var errAbort = errors.New("abort")
