package test

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// fanRound is one message fanned out: when each copy arrived.
type fanRound struct {
	mu    sync.Mutex
	times []time.Time
	all   chan struct{}
	want  int
}

func (r *fanRound) arrived(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, at)
	if len(r.times) == r.want {
		close(r.all)
	}
}

// fanoutSubscribers is how many subscribers BenchmarkBusFanout connects:
// FLEETGATE_BENCH_SUBSCRIBERS, 10,000 by default.
func fanoutSubscribers(b *testing.B) int { return envCount(b, "FLEETGATE_BENCH_SUBSCRIBERS", 10000) }

// BenchmarkBusFanout publishes one message on one broker to n
// subscribers spread over three brokers routed over NATS and measures the
// time from the PUBLISH written until the last copy arrived (and the
// median copy), over fanRounds messages. Run with `make bench-cluster`.
func BenchmarkBusFanout(b *testing.B) {
	const fanRounds = 5
	n := fanoutSubscribers(b)
	if soft, _, err := host.RaiseNoFile(uint64(n) + 1024); err != nil || soft < uint64(n)+256 {
		b.Skipf("open-file limit %d (%v) is too low for %d connections", soft, err, n)
	}
	f := startBusFleet(b, 3)
	admin := adminClient(b, f.api)
	key := pki.Key(b)
	csr := []byte(pki.CSRPEM(b, key, ""))
	const topic = "devices/fan-src/out"
	start := time.Now()
	pubCert, err := issueKeyed(admin, "fan-src", key, csr)
	if err != nil {
		b.Fatal(err)
	}
	certs := make([]tls.Certificate, n)
	parallel(b, n, 8, func(i int) error {
		var err error
		certs[i], err = issueKeyed(admin, fmt.Sprintf("fan-%05d", i), key, csr, "devices/fan-src/#")
		return err
	})
	b.Logf("%d subscribers registered and certified in %s", n, time.Since(start).Round(time.Millisecond))

	rounds := make([]*fanRound, fanRounds+1) // round 0 warms up
	for i := range rounds {
		rounds[i] = &fanRound{all: make(chan struct{}), want: n}
	}
	var warm atomic.Int64 // subscribers that saw a warm-up message
	start = time.Now()
	conns := make([]*mqttConn, n)
	closeAtCleanup(b, conns)
	parallel(b, n, 16, func(i int) error {
		id := fmt.Sprintf("fan-%05d", i)
		c, code, err := f.open(f.brokers[i%len(f.brokers)], certs[i], id)
		if err != nil || code != 0 {
			return fmt.Errorf("connect %s: code %d, %v", id, code, err)
		}
		conns[i] = c
		if code, err := subscribeOnce(c, topic, 0); err != nil || code != 0 {
			return fmt.Errorf("subscribe %s: SUBACK %#x, %v", id, code, err)
		}
		go fanRead(c, rounds, &warm)
		return nil
	})
	b.Logf("%d subscribers connected and subscribed over %d brokers in %s", n, len(f.brokers), time.Since(start).Round(time.Millisecond))

	pub, code, err := f.open(f.brokers[0], pubCert, "fan-src")
	if err != nil || code != 0 {
		b.Fatalf("connect publisher: code %d, %v", code, err)
	}
	defer pub.Close()
	// Every broker's NATS subscription is made after its first SUBACK:
	// warm up until every subscriber has had a copy.
	for deadline := time.Now().Add(time.Minute); warm.Load() < int64(n); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscribers got a warm-up message in a minute", warm.Load(), n)
		}
		if err := pub.send(mqttwire.Publish(topic, 0, 0, []byte{0})); err != nil {
			b.Fatal(err)
		}
	}
	var lasts, medians []float64
	for r := 1; r <= fanRounds; r++ {
		time.Sleep(500 * time.Millisecond) // the warm-up's and last round's copies drain
		sent := time.Now()
		if err := pub.send(mqttwire.Publish(topic, 0, 0, []byte{byte(r)})); err != nil {
			b.Fatal(err)
		}
		rd := rounds[r]
		select {
		case <-rd.all:
		case <-time.After(time.Minute):
		}
		rd.mu.Lock()
		times := slices.Clone(rd.times)
		rd.mu.Unlock()
		if len(times) < n {
			b.Fatalf("round %d: %d of %d copies arrived within a minute", r, len(times), n)
		}
		slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
		last, median := ms(times[n-1].Sub(sent)), ms(times[n/2].Sub(sent))
		lasts, medians = append(lasts, last), append(medians, median)
		b.Logf("fan-out round %d: %d copies over %d brokers, median copy %.1f ms, last copy %.1f ms", r, n, len(f.brokers), median, last)
	}
	b.Logf("fan-out of one message to %d subscribers over %d brokers (median of %d): last copy %.1f ms, median copy %.1f ms",
		n, len(f.brokers), fanRounds, medianOf(lasts), medianOf(medians))
	b.ReportMetric(medianOf(lasts), "last-copy-ms")
	b.ReportMetric(medianOf(medians), "median-copy-ms")
}

// fanRead records each round's copy arriving at c; a warm-up copy
// (round 0) counts once in warm.
func fanRead(c *mqttConn, rounds []*fanRound, warm *atomic.Int64) {
	warmed := false
	_ = c.tc.SetReadDeadline(time.Time{})
	for {
		p, err := mqttwire.ReadPacket(c.r, mqttwire.MaxPacket)
		if err != nil {
			return
		}
		now := time.Now()
		if p.Type != mqttwire.PUBLISH {
			continue
		}
		_, _, payload, err := mqttwire.ParsePublish(p)
		if err != nil || len(payload) != 1 || int(payload[0]) >= len(rounds) {
			continue
		}
		if payload[0] == 0 {
			if !warmed {
				warmed = true
				warm.Add(1)
			}
			continue
		}
		rounds[payload[0]].arrived(now)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
