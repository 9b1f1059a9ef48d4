package store

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
)

// BackendEnv selects the backend the package's tests open registries on:
// unset for bbolt files, "etcd" for one shared etcd cluster (make test runs
// both), so that every behaviour tested on the file holds on etcd too.
const backendEnv = "FLEETGATE_STORE_BACKEND"

// sharedEtcd is the cluster of an etcd run; nil on bbolt.
var sharedEtcd *etcdtest.Cluster

var prefixes atomic.Int64

func TestMain(m *testing.M) {
	switch b := os.Getenv(backendEnv); b {
	case "":
	case "etcd":
		c, stop, err := etcdtest.StartShared(1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sharedEtcd = c
		code := m.Run()
		stop()
		os.Exit(code)
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want empty (bbolt) or etcd\n", backendEnv, b)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// openBackend opens a fresh, empty registry on the selected backend.
func openBackend(t testing.TB, opts Options) *DB {
	t.Helper()
	if sharedEtcd == nil {
		db, err := Open(t.TempDir()+"/registry.db", opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	}
	db, err := OpenEtcd(EtcdOptions{Endpoints: sharedEtcd.Endpoints(), Prefix: fmt.Sprintf("/t%d", prefixes.Add(1))}, opts)
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	return db
}

// boltOnly skips a test of the bbolt file itself on an etcd run.
func boltOnly(t testing.TB) {
	t.Helper()
	if sharedEtcd != nil {
		t.Skip("tests the bbolt file")
	}
}

// sameDER compares what Lookup returned with what was stored. On etcd
// Lookup reads the broker's local copy, which keeps no DER.
func sameDER(got, want []byte) bool {
	return sharedEtcd != nil && len(got) == 0 || string(got) == string(want)
}
