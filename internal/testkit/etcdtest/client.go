package etcdtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Endpoints returns the client endpoints (host:port) of all members, in
// member order, running or not.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.endpoint()
	}
	return eps
}

// Endpoint returns the client endpoint (host:port) of member i.
func (c *Cluster) Endpoint(i int) string {
	c.t.Helper()
	return c.member(i).endpoint()
}

// Client returns a client of the given endpoints, all members' when none are
// given, closed when t ends.
func (c *Cluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := c.newClient(endpoints)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func (c *Cluster) newClient(endpoints []string) (*clientv3.Client, error) {
	var tc *tls.Config
	if c.tls != nil {
		var err error
		if tc, err = c.tls.ClientConfig(); err != nil {
			return nil, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: opTimeout,
		TLS:         tc,
		Logger:      zap.NewNop(), // failures reach the test through the errors
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %s: %w", strings.Join(endpoints, ","), err)
	}
	return cli, nil
}

// Leader returns the index of the member that is the leader, waiting (up to
// 30 seconds) while an election is under way.
func (c *Cluster) Leader() int {
	c.t.Helper()
	cli, err := c.newClient(c.Endpoints())
	if err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	deadline := time.Now().Add(readyTimeout)
	var last error
	for {
		for i, m := range c.members {
			if !m.running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), maxProbeTimeout)
			st, err := cli.Status(ctx, m.endpoint())
			cancel()
			switch {
			case err != nil:
				last = fmt.Errorf("status of %s: %w", m.name, err)
			case st.Leader != 0 && st.Leader == st.Header.MemberId:
				return i
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("etcdtest: no leader among the running members after %v (last error: %v)", readyTimeout, last)
		}
		time.Sleep(probeEvery) // polling interval: the election has no event to await from outside
	}
}

// Compact compacts the key-value store at its current revision and waits
// until the compacted revisions are physically removed; it returns that
// revision. Reads and watches from earlier revisions then fail with
// rpctypes.ErrCompacted.
func (c *Cluster) Compact(t testing.TB) int64 {
	t.Helper()
	cli, err := c.newClient(c.Endpoints())
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, "etcdtest/compact", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcdtest: compact: current revision: %v", err)
	}
	rev := resp.Header.Revision
	// Compacting twice at the same revision is refused as compacted; the
	// store is compacted at rev all the same.
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("etcdtest: compact at revision %d: %v", rev, err)
	}
	return rev
}
