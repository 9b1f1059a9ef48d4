package test

import (
	"context"
	"crypto"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// startBusFleet starts a nats-server and a fleet of n brokers routing
// over it.
func startBusFleet(b testing.TB, n int) *fleet {
	ns := natstest.Start(b)
	f := startFleetAPI(b)
	for range n {
		f.brokers = append(f.brokers, f.startBroker(b, f.api.DataDir, "--bus", ns.URL))
	}
	return f
}

// issueKeyed registers id, allowed to subscribe to the filters given,
// and issues it a certificate for key from csr.
func issueKeyed(admin *client.Client, id string, key crypto.Signer, csr []byte, subscribe ...string) (tls.Certificate, error) {
	if _, err := admin.RegisterDevice(context.Background(), wire.RegisterRequest{ID: id, Subscribe: subscribe}); err != nil {
		return tls.Certificate{}, fmt.Errorf("register %s: %w", id, err)
	}
	return issueChain(admin, id, key, csr)
}

// subscribeOnce sends one SUBSCRIBE and returns the SUBACK's code.
func subscribeOnce(c *mqttConn, filter string, qos byte) (byte, error) {
	if err := c.send(mqttwire.Subscribe(1, filter, qos)); err != nil {
		return 0, err
	}
	p, err := c.await("SUBACK", func(p mqttwire.Packet) bool { return p.Type == mqttwire.SUBACK })
	if err != nil {
		return 0, err
	}
	if len(p.Body) != 3 {
		return 0, fmt.Errorf("SUBACK of %d bytes", len(p.Body))
	}
	return p.Body[2], nil
}

// BenchmarkBusRouting measures messages/s and end-to-end latency from
// one publisher to one subscriber, both on the same broker and on two
// brokers routed over NATS, at QoS 0 and QoS 1, in alternating rounds of
// one run on a 3-member etcd and one nats-server. Throughput: flowBurst
// messages as fast as the publisher can write (QoS 1: 64 unacknowledged
// at most); latency: flowPaced messages at 1,000/s. Run with `make
// bench-cluster`.
func BenchmarkBusRouting(b *testing.B) {
	const rounds, flowBurst, flowPaced = 3, 20000, 3000
	f := startBusFleet(b, 2)
	admin := adminClient(b, f.api)
	key := pki.Key(b)
	csr := []byte(pki.CSRPEM(b, key, ""))
	pubCert, err := issueKeyed(admin, "flow-pub", key, csr)
	if err != nil {
		b.Fatal(err)
	}
	subCert, err := issueKeyed(admin, "flow-sub", key, csr, "devices/flow-pub/#")
	if err != nil {
		b.Fatal(err)
	}
	const topic = "devices/flow-pub/flow"
	open := func(s *server, cert tls.Certificate, id string) *mqttConn {
		c, code, err := f.open(s, cert, id)
		if err != nil || code != 0 {
			b.Fatalf("connect %s: code %d, %v", id, code, err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	// pair connects the publisher to broker 0 and the subscriber to
	// broker sb, and waits until a message goes through (the NATS
	// subscription of another broker is made after the SUBACK).
	pair := func(sb int, qos byte) (*flowPub, *flowSub, func()) {
		pc := open(f.brokers[0], pubCert, "flow-pub")
		sc := open(f.brokers[sb], subCert, "flow-sub")
		if code, err := subscribeOnce(sc, topic, qos); err != nil || code > 1 {
			b.Fatalf("subscribe: SUBACK %#x, %v", code, err)
		}
		pub, sub := newFlowPub(pc, topic, qos), newFlowSub(sc)
		payload := make([]byte, 64)
		deadline := time.Now().Add(attackWait)
		for sub.count() == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("no message reached the subscriber on broker %d in %v", sb, attackWait)
			}
			if err := pub.publish(payload); err != nil {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sub.settle(1<<30, 200*time.Millisecond)
		return pub, sub, func() { pc.Close(); sc.Close(); <-sub.done }
	}
	for _, qos := range []byte{0, 1} {
		var rate, p50, p99 [2][]float64 // [same, cross]
		for r := range rounds {
			for j := range 2 {
				cross := (j + r) % 2
				pub, sub, closeAll := pair(cross, qos)
				burst, err := pub.run(sub, flowBurst, 0)
				if err != nil {
					b.Fatal(err)
				}
				paced, err := pub.run(sub, flowPaced, time.Millisecond)
				if err != nil {
					b.Fatal(err)
				}
				closeAll()
				rate[cross] = append(rate[cross], burst.perSecond)
				p50[cross] = append(p50[cross], paced.pct(0.50))
				p99[cross] = append(p99[cross], paced.pct(0.99))
				b.Logf("round %d QoS %d %s: %.0f messages/s (%d of %d arrived); at 1,000/s p50 %.2f ms, p99 %.2f ms (%d of %d)",
					r+1, qos, [2]string{"same broker", "cross-broker"}[cross], burst.perSecond, burst.received, burst.sent,
					paced.pct(0.50), paced.pct(0.99), paced.received, paced.sent)
			}
		}
		same, cross := medianOf(rate[0]), medianOf(rate[1])
		added := medianOf(p99[1]) - medianOf(p99[0])
		b.Logf("routing QoS %d (median of %d rounds): same broker %.0f messages/s, cross-broker %.0f (ratio %.2f, goal >= 0.7); "+
			"p50 %.2f vs %.2f ms, p99 %.2f vs %.2f ms (added %.2f ms, goal <= 5)",
			qos, rounds, same, cross, cross/same, medianOf(p50[0]), medianOf(p50[1]), medianOf(p99[0]), medianOf(p99[1]), added)
		b.ReportMetric(cross/same, fmt.Sprintf("qos%d-cross/same", qos))
		b.ReportMetric(added, fmt.Sprintf("qos%d-added-p99-ms", qos))
	}
}
