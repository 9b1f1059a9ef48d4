package natstest

import (
	"fmt"
	"strings"
	"testing"
)

// Cluster is a routed nats-server cluster with JetStream on every node, so
// streams and key-value buckets can be replicated over its nodes.
type Cluster struct {
	Nodes []*Server
}

// ClusterOption changes how StartCluster runs its nodes.
type ClusterOption func(*clusterOptions)

type clusterOptions struct{ noAdvertise bool }

// NoAdvertise keeps the nodes from telling clients of each other: a client
// reaches only the URLs it is given, so that a test can put a proxy
// (netcut) between one client and the cluster without the client finding
// the nodes behind it. Without it a client given one node fails over to
// the others, as in production.
func NoAdvertise() ClusterOption { return func(o *clusterOptions) { o.noAdvertise = true } }

// StartCluster starts n nats-server nodes routed to each other with
// JetStream, and waits until every node is healthy (a JetStream meta
// leader is elected). All are killed when the test ends.
func StartCluster(t testing.TB, n int, opts ...ClusterOption) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: a cluster needs at least one node, not %d", n)
	}
	var o clusterOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := lookup(t)
	routePorts := make([]int, n)
	routes := make([]string, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i])
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		extra := []string{"--cluster_name", "fleetgate-test",
			"--cluster", routes[i], "--routes", strings.Join(routes, ",")}
		if o.noAdvertise {
			extra = append(extra, "--no_advertise")
		}
		c.Nodes = append(c.Nodes, newServer(t, bin, fmt.Sprintf("fg-%d", i), t.TempDir(), extra))
	}
	for _, s := range c.Nodes {
		s.start(t)
	}
	for _, s := range c.Nodes {
		s.waitHealthy(t)
	}
	return c
}

// URLs returns every node's client URL joined by commas, as the broker's
// --bus flag takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		urls[i] = s.URL
	}
	return strings.Join(urls, ",")
}

// Kill SIGKILLs node i.
func (c *Cluster) Kill(i int) { c.Nodes[i].Kill() }

// Restart starts node i again on its ports and storage after Kill, and
// waits until it is healthy.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Nodes[i].start(t)
	c.Nodes[i].waitHealthy(t)
}
