package etcdtest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ctxFor returns a context that ends after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustGet(t *testing.T, ctx context.Context, cli *clientv3.Client, key string, opts ...clientv3.OpOption) string {
	t.Helper()
	resp, err := cli.Get(ctx, key, opts...)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("get %s: %d keys, want 1", key, len(resp.Kvs))
	}
	return string(resp.Kvs[0].Value)
}

// TestClusterKillLeader: three members replicate a write; with the leader
// killed the others elect a new one and take writes through a client of all
// endpoints; the killed member, restarted on its data, catches up.
func TestClusterKillLeader(t *testing.T) {
	c := Start(t, 3)
	ctx := ctxFor(t, 20*time.Second)
	const key = "fleetgate/etcdtest/k"

	if eps := c.Endpoints(); len(eps) != 3 || eps[0] == eps[1] || eps[1] == eps[2] || eps[0] == eps[2] {
		t.Fatalf("endpoints %v: want 3 distinct", eps)
	}
	all := c.Client(t)
	if _, err := c.Client(t, c.Endpoint(0)).Put(ctx, key, "v1"); err != nil {
		t.Fatalf("put through member 0: %v", err)
	}
	if got := mustGet(t, ctx, c.Client(t, c.Endpoint(1)), key); got != "v1" {
		t.Fatalf("member 1 reads %q, want v1", got)
	}

	old := c.Leader()
	c.Kill(old)
	if c.members[old].running() {
		t.Fatalf("member %d still running after Kill", old)
	}
	lead := c.Leader()
	if lead == old {
		t.Fatalf("leader is still the killed member %d", old)
	}
	t.Logf("leader %d killed, member %d elected", old, lead)
	if _, err := all.Put(ctx, key, "v2"); err != nil {
		t.Fatalf("put through all endpoints with the leader killed: %v", err)
	}

	c.Restart(old)
	back := c.Client(t, c.Endpoint(old))
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Serializable: what the restarted member has applied itself.
		got := mustGet(t, ctx, back, key, clientv3.WithSerializable())
		if got == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted member %d still reads %q, want v2", old, got)
		}
		time.Sleep(20 * time.Millisecond) // polling the member's state
	}
}

// TestSingleMember: one member serves writes, Compact makes earlier
// revisions unreadable, and the data survives Stop and Restart.
func TestSingleMember(t *testing.T) {
	var m *member
	t.Run("cluster", func(t *testing.T) {
		c := Start(t, 1)
		m = c.members[0]
		ctx := ctxFor(t, 15*time.Second)
		cli := c.Client(t)
		const key = "fleetgate/etcdtest/one"
		for _, v := range []string{"a", "b"} {
			if _, err := cli.Put(ctx, key, v); err != nil {
				t.Fatalf("put %s: %v", v, err)
			}
		}
		if c.Leader() != 0 {
			t.Fatal("the single member is not the leader")
		}

		rev := c.Compact(t)
		if _, err := cli.Get(ctx, key, clientv3.WithRev(rev-1)); !errors.Is(err, rpctypes.ErrCompacted) {
			t.Fatalf("get at revision %d after compacting at %d: err %v, want %v", rev-1, rev, err, rpctypes.ErrCompacted)
		}
		if got := mustGet(t, ctx, cli, key, clientv3.WithRev(rev)); got != "b" {
			t.Fatalf("get at compacted revision %d: %q, want b", rev, got)
		}
		c.Compact(t) // again at the same revision: no error

		c.Stop(0)
		if m.running() {
			t.Fatal("member running after Stop")
		}
		c.Restart(0)
		if got := mustGet(t, ctx, c.Client(t), key); got != "b" {
			t.Fatalf("after restart: %q, want b", got)
		}
	})
	if m != nil && m.running() {
		t.Fatalf("member %s still running after the test's cleanup", m.name)
	}
}

// TestMissingBinarySkips: without etcd on PATH Start skips the test, unless
// RequireEnv is set.
func TestMissingBinarySkips(t *testing.T) {
	var skipped bool
	t.Run("no-etcd", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		t.Setenv(RequireEnv, "")
		t.Cleanup(func() { skipped = t.Skipped() })
		Start(t, 1)
		t.Error("Start returned without etcd on PATH")
	})
	if !skipped {
		t.Error("not skipped")
	}
}

// TestStartRetriesTakenPort: when a member's port is taken, Start starts
// the cluster again on other ports.
func TestStartRetriesTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[0] = taken // member 0's client port
		}
		return ports, err
	}
	t.Cleanup(func() { pickPorts = freePorts })

	c := Start(t, 1)
	if calls != 2 {
		t.Fatalf("%d start attempts, want 2", calls)
	}
	if c.members[0].clientPort == taken {
		t.Fatal("member kept the taken port")
	}
	cli := c.Client(t)
	if _, err := cli.Put(ctxFor(t, 10*time.Second), "fleetgate/etcdtest/retry", "x"); err != nil {
		t.Fatalf("put after the retried start: %v", err)
	}
}
