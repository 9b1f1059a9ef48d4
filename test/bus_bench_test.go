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

// BenchmarkBusRouting measures messages/s, the brokers' CPU per message
// and end-to-end latency from one publisher to one subscriber, both on
// the same broker and on two brokers routed over NATS, at QoS 0 and
// QoS 1, on a 3-member etcd and one nats-server. Throughput: a burst as
// fast as the publisher can write (QoS 1: 64 unacknowledged at most);
// latency: flowPaced messages at 1,000/s. A warm-up run of each case is
// not counted; then each round runs the two cases back to back, in
// alternating order (an even number of rounds: each case goes first as
// often), and the ratio reported is the median of the rounds' ratios, so
// that a change in the machine's load between rounds moves both sides of
// a ratio. Run with `make bench-cluster`.
func BenchmarkBusRouting(b *testing.B) {
	const rounds, flowPaced = 6, 3000
	bursts := [2]int{50000, 10000} // by QoS: about a second, and three
	f := startBusFleet(b, 2)
	b.Logf("routing load average at start: %s", loadAverage())
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
	// measure connects the publisher to broker 0 and the subscriber to
	// broker cross, waits until a message goes through (the NATS
	// subscription of another broker is made after the SUBACK), measures
	// and disconnects both.
	measure := func(cross int, qos byte, n, paced int) routeRun {
		pc := open(f.brokers[0], pubCert, "flow-pub")
		sc := open(f.brokers[cross], subCert, "flow-sub")
		if code, err := subscribeOnce(sc, topic, qos); err != nil || code > 1 {
			b.Fatalf("subscribe: SUBACK %#x, %v", code, err)
		}
		pub, sub := newFlowPub(pc, topic, qos), newFlowSub(sc)
		payload := make([]byte, 64)
		deadline := time.Now().Add(attackWait)
		for sub.count() == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("no message reached the subscriber on broker %d in %v", cross, attackWait)
			}
			if err := pub.publish(payload); err != nil {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sub.settle(1<<30, 200*time.Millisecond)
		run := measureRoute(b, f.brokers, pub, sub, n, paced)
		pc.Close()
		sc.Close()
		<-sub.done
		return run
	}
	cases := [2]string{"same broker", "cross-broker"}
	for _, qos := range []byte{0, 1} {
		for cross := range 2 {
			w := measure(cross, qos, bursts[qos]/5, 0)
			b.Logf("warm-up QoS %d %s (not counted): %.0f messages/s", qos, cases[cross], w.burst.perSecond)
		}
		var rate, cpu, allocs, p50, p99 [2][]float64 // [same, cross]
		var ratios, costs []float64
		for r := range rounds {
			var run [2]routeRun
			for j := range 2 {
				cross := (j + r) % 2
				run[cross] = measure(cross, qos, bursts[qos], flowPaced)
				burst, paced := run[cross].burst, run[cross].paced
				rate[cross] = append(rate[cross], burst.perSecond)
				cpu[cross] = append(cpu[cross], run[cross].cpu)
				allocs[cross] = append(allocs[cross], run[cross].allocs)
				p50[cross] = append(p50[cross], paced.pct(0.50))
				p99[cross] = append(p99[cross], paced.pct(0.99))
				b.Logf("round %d QoS %d %s: %.0f messages/s (%d of %d arrived), brokers' CPU %.1f µs and %.1f allocations per message; at 1,000/s p50 %.2f ms, p99 %.2f ms (%d of %d)",
					r+1, qos, cases[cross], burst.perSecond, burst.received, burst.sent, run[cross].cpu, run[cross].allocs,
					paced.pct(0.50), paced.pct(0.99), paced.received, paced.sent)
			}
			ratios = append(ratios, run[1].burst.perSecond/run[0].burst.perSecond)
			costs = append(costs, run[1].cpu/run[0].cpu)
		}
		ratio, added := medianOf(ratios), medianOf(p99[1])-medianOf(p99[0])
		b.Logf("routing QoS %d (%d rounds): same broker %.0f messages/s, cross-broker %.0f (medians); cross/same per round %s, median %.2f (goal >= 0.7); "+
			"brokers' CPU %.1f vs %.1f µs/message (cross/same per round %s), allocations %.1f vs %.1f per message; p50 %.2f vs %.2f ms, p99 %.2f vs %.2f ms (added %.2f ms, goal <= 5)",
			qos, rounds, medianOf(rate[0]), medianOf(rate[1]), ratiosText(ratios), ratio,
			medianOf(cpu[0]), medianOf(cpu[1]), ratiosText(costs), medianOf(allocs[0]), medianOf(allocs[1]), medianOf(p50[0]), medianOf(p50[1]), medianOf(p99[0]), medianOf(p99[1]), added)
		b.ReportMetric(ratio, fmt.Sprintf("qos%d-cross/same", qos))
		b.ReportMetric(medianOf(costs), fmt.Sprintf("qos%d-cpu-cross/same", qos))
		b.ReportMetric(added, fmt.Sprintf("qos%d-added-p99-ms", qos))
		b.ReportMetric(medianOf(allocs[0]), fmt.Sprintf("qos%d-same-allocs/msg", qos))
		b.ReportMetric(medianOf(allocs[1]), fmt.Sprintf("qos%d-cross-allocs/msg", qos))
	}
	b.Logf("routing load average at end: %s", loadAverage())
}
