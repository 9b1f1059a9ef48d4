package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
	"github.com/fleetgate/fleetgate/internal/testkit/netcut"
)

// TestBusCluster: three brokers on a 3-node NATS cluster with JetStream
// and a 3-member etcd act as one MQTT service. A retained message set on
// A is served on B, replaced on B is served on A and on C (a broker that
// started after it was set), cleared on C is gone everywhere; the Will of
// a device on A reaches a subscriber on B; a shared group with a member
// on A and one on B gets each message once in total; and C, cut off from
// NATS by a proxy, goes on delivering locally, says so in its log and
// metrics, and routes again once NATS is back, for subscriptions made
// during the cut too.
func TestBusCluster(t *testing.T) {
	nc := natstest.StartCluster(t, 3, natstest.NoAdvertise()) // C is cut off through a proxy
	node2, err := url.Parse(nc.Nodes[2].URL)
	if err != nil {
		t.Fatal(err)
	}
	cut := netcut.Start(t, node2.Host)
	f := startFleetAPI(t)
	a := f.startBroker(t, f.api.DataDir, "--bus", nc.URLs())
	b := f.startBroker(t, f.api.DataDir, "--bus", nc.URLs())

	all := []string{"--subscribe", "devices/#", "--publish", "devices/#"}
	devA, _, _ := f.device(t, "dev-a")
	backendCert, _, _ := f.device(t, "backend", all...)
	// One probe identity per broker: a device that hops between brokers
	// within milliseconds races its own session claims (broker/cluster.go).
	type probe struct {
		id   string
		cert tls.Certificate
	}
	probes := map[*server]probe{}
	const state = "devices/dev-a/state"
	dev := f.pahoOn(t, a, devA, "dev-a")
	backend := f.pahoOn(t, b, backendCert, "backend")
	probeOn := func(t *testing.T, brk *server) probe {
		p, ok := probes[brk]
		if !ok {
			p.id = fmt.Sprintf("probe-%d", len(probes))
			p.cert, _, _ = f.device(t, p.id, "--subscribe", "devices/#")
			probes[brk] = p
		}
		return p
	}
	retainedOn := func(t *testing.T, brk *server, topic, want string) {
		t.Helper()
		p := probeOn(t, brk)
		f.awaitRetained(t, brk, p.cert, p.id, topic, "devices/"+p.id+"/mark", want)
	}

	dev.publish(t, state, "on", true)
	retainedOn(t, b, state, "on")
	if r := bucketReplicas(t, nc.URLs()); r != 3 {
		t.Fatalf("retained bucket has %d replicas on a 3-node cluster, want 3", r)
	}

	// C starts after the retained message was set: it loads the bucket
	// before it accepts anyone. It reaches NATS only through the proxy.
	c := f.startBroker(t, f.api.DataDir, "--bus", "nats://"+cut.Addr)
	pc := probeOn(t, c)
	if got, _ := f.retainedSeen(t, c, pc.cert, pc.id, state, "devices/"+pc.id+"/mark"); got != "on" {
		t.Fatalf("the first subscriber on a broker started after the retained message was set gets %q, want %q", got, "on")
	}

	t.Run("replaced on B, served on A and C", func(t *testing.T) {
		backend.publish(t, state, "off", true)
		retainedOn(t, a, state, "off")
		retainedOn(t, c, state, "off")
	})

	t.Run("cleared on C, gone everywhere", func(t *testing.T) {
		adminCert, _, _ := f.device(t, "admin", all...)
		admin := f.pahoOn(t, c, adminCert, "admin")
		admin.publish(t, state, "", true)
		for _, brk := range []*server{a, b, c} {
			retainedOn(t, brk, state, "")
		}
	})

	t.Run("will of a device on A reaches B", func(t *testing.T) {
		watcherCert, _, _ := f.device(t, "watcher", "--subscribe", "devices/#")
		watcher := f.pahoOn(t, b, watcherCert, "watcher")
		if code := watcher.subscribe(t, "devices/dev-w/status"); code != 1 {
			t.Fatalf("SUBACK %#x", code)
		}
		willCert, _, _ := f.device(t, "dev-w")
		conn, err := dialMQTT(a.MQTT, deviceTLS(f.roots, willCert))
		if err != nil {
			t.Fatal(err)
		}
		o := session("dev-w")
		o.WillTopic, o.WillPayload, o.WillQoS = "devices/dev-w/status", "offline", 1
		if err := conn.send(o.Packet()); err != nil {
			t.Fatal(err)
		}
		if code, _, err := conn.connack(); err != nil || code != 0 {
			t.Fatalf("CONNECT dev-w: code %d, %v", code, err)
		}
		conn.Close() // no DISCONNECT: the broker publishes the Will
		drainUntil(t, watcher, "devices/dev-w/status", "offline")
	})

	t.Run("shared group across brokers gets each message once", func(t *testing.T) {
		var workers []*pahoDevice
		for i, brk := range []*server{a, b} {
			id := fmt.Sprintf("worker-%d", i)
			cert, _, _ := f.device(t, id, "--subscribe", "devices/#")
			w := f.pahoOn(t, brk, cert, id)
			for _, filter := range []string{"$share/g/devices/dev-a/job", "devices/dev-a/marker"} {
				if code := w.subscribe(t, filter); code != 1 {
					t.Fatalf("%s subscribe %q: SUBACK %#x", id, filter, code)
				}
			}
			// A marker that arrives shows the worker's interest is known
			// across the NATS cluster.
			awaitVia(t, dev, w, "devices/dev-a/marker", "ready")
			workers = append(workers, w)
		}
		const n = 20
		for i := range n {
			dev.publish(t, "devices/dev-a/job", fmt.Sprintf("job-%d", i), false)
		}
		got := map[string]int{}
		total := 0
		deadline := time.After(busWait)
		for total < n {
			select {
			case m := <-workers[0].msgs:
				total += countJob(got, m)
			case m := <-workers[1].msgs:
				total += countJob(got, m)
			case <-deadline:
				t.Fatalf("the group got %d of %d jobs: %v", total, n, got)
			}
		}
		// Jobs and the marker travel on different bus subscriptions, so
		// the marker is sent once every job is in: a copy too many would
		// come before it.
		dev.publish(t, "devices/dev-a/marker", "end", false)
		for _, w := range workers {
			for _, m := range drainUntil(t, w, "devices/dev-a/marker", "end") {
				countJob(got, m)
			}
		}
		for i := range n {
			if c := got[fmt.Sprintf("job-%d", i)]; c != 1 {
				t.Errorf("job-%d delivered %d times in the group, want once (all: %v)", i, c, got)
			}
		}
	})

	t.Run("C cut off from NATS", func(t *testing.T) {
		cutOff(t, f, cut, b, c, dev, func(t *testing.T, topic, want string) { retainedOn(t, c, topic, want) })
	})
}

// countJob counts m in got when it is a job and says whether it was.
func countJob(got map[string]int, m paho.Message) int {
	if m.Topic() != "devices/dev-a/job" {
		return 0
	}
	got[string(m.Payload())]++
	return 1
}

// bucketReplicas returns the replicas of the retained messages' bucket.
func bucketReplicas(t *testing.T, urls string) int {
	t.Helper()
	js := natstest.JetStream(t, urls)
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	st, err := js.Stream(ctx, "KV_"+bus.RetainedBucket)
	if err != nil {
		t.Fatalf("retained bucket: %v", err)
	}
	return st.CachedInfo().Config.Replicas
}
