package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// testBusEvents (a subtest of TestBusRouting, whose two brokers share one
// registry and one nats-server): lifecycle events of devices on either
// broker reach a plain subscriber on one of them, and a $share pool with a
// member on each broker gets each event once between its members.
func testBusEvents(t *testing.T, f *fleet, brokers []*server) {
	connected := broker.EventsRoot + broker.EventConnected + "/"

	// listen connects a backend granted the events and returns the topics
	// of the events it receives on filter.
	listen := func(brk *server, id, filter string) <-chan string {
		cert, _, _ := f.device(t, id, "--subscribe", broker.EventsRoot+"#")
		c, code, err := f.open(brk, cert, id)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if err != nil || code != 0 {
			t.Fatalf("CONNECT %s: code %d, %v", id, code, err)
		}
		if code := c.subscribe(t, 1, filter, 0); code != 0 {
			t.Fatalf("%s: subscribe %q: SUBACK %#x", id, filter, code)
		}
		topics := make(chan string, 64)
		go func() {
			for {
				p, err := c.next()
				if err != nil {
					return // closed at cleanup
				}
				if p.Type == mqttwire.PUBLISH {
					m, _ := decodePublish(p)
					topics <- m.topic
				}
			}
		}()
		return topics
	}
	pool := []<-chan string{
		listen(brokers[0], "pool-a", "$share/pool/"+connected+"#"),
		listen(brokers[1], "pool-b", "$share/pool/"+connected+"#"),
	}
	audit := listen(brokers[1], "audit", connected+"#")

	const n = 8
	want := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("ev-%d", i)
		cert, _, _ := f.device(t, id)
		c, code, err := f.open(brokers[i%2], cert, id)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if err != nil || code != 0 {
			t.Fatalf("CONNECT %s: code %d, %v", id, code, err)
		}
		want[connected+id] = true
	}

	// Until the audit has all n and the pool n device events: a copy
	// too many would show as a second count.
	got := map[string]int{}
	heard, pooled := map[string]bool{}, 0
	deadline := time.After(30 * time.Second)
	for len(heard) < n || pooled < n {
		select {
		case topic := <-audit:
			if want[topic] {
				heard[topic] = true
			}
		case topic := <-pool[0]:
			got[topic]++
		case topic := <-pool[1]:
			got[topic]++
		case <-deadline:
			t.Fatalf("after 30s: audit heard %d of %d, pool %v", len(heard), n, got)
		}
		pooled = 0
		for topic, k := range got {
			if strings.HasPrefix(topic, connected+"ev-") {
				pooled += k
			}
		}
	}
	for topic := range want {
		if got[topic] != 1 {
			t.Fatalf("pool got %s %d times, want once: %v", topic, got[topic], got)
		}
	}
}
