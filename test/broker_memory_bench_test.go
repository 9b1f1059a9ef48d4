package test

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// memSettle is how long the broker is left alone after the last device
// subscribed and published before it is measured: longer than the
// memory release's quiet (broker.DefaultReleaseQuiet), so that the pages
// the connect burst freed are back with the OS in both contenders.
const memSettle = 6 * time.Second

// memLoad is the load phase: every device publishes QoS 1 on its own
// topic, memRate messages a second in all, for memLoadFor.
const (
	memRate    = 500
	memLoadFor = 20 * time.Second
)

// BenchmarkBrokerMemory measures what a device costs one broker on the
// embedded bbolt registry without a bus and one broker of a cluster
// (etcd registry, NATS bus), in the same run. n mTLS devices
// (FLEETGATE_BENCH_MEM_DEVICES, 3,000 by default) are registered (the
// cluster broker keeps a copy of the registry), connect, subscribe to
// their own command topic as the agent does and publish once; idle, each
// broker's RSS, live heap after a GC, heap in use, stacks and goroutines
// are read before and after, per device. Then the devices publish QoS 1
// (memRate a second in all, as 100,000 devices every 30 s over six
// brokers) for memLoadFor: the broker's peak RSS, what its collector lets
// the heap grow to between collections, and its CPU per 1,000 messages.
// FLEETGATE_BENCH_MEM_FLAGS adds flags to both brokers (say
// "--memory-limit 200MiB"). The heap profiles (pprof -base before after:
// what the devices hold, by call site) go to FLEETGATE_BENCH_PROFILES
// when set. Run with `make bench-brokermem`.
func BenchmarkBrokerMemory(b *testing.B) {
	n := envCount(b, "FLEETGATE_BENCH_MEM_DEVICES", 3000)
	if soft, _, err := host.RaiseNoFile(uint64(n) + 1024); err != nil || soft < uint64(n)+256 {
		b.Skipf("open-file limit %d (%v) is too low for %d connections", soft, err, n)
	}
	profiles := os.Getenv("FLEETGATE_BENCH_PROFILES")
	if profiles != "" {
		if err := os.MkdirAll(profiles, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	flags := append([]string{"--ops-pprof"}, strings.Fields(os.Getenv("FLEETGATE_BENCH_MEM_FLAGS"))...)
	bolt := &fleet{}
	bolt.api = startServer(b, b.TempDir(), flags...)
	bolt.brokers = []*server{bolt.api}
	bolt.roots = pki.ReadPool(b, bolt.api.CAFile("root.crt"))
	ns := natstest.Start(b)
	cluster := startFleetAPI(b)
	cluster.brokers = []*server{cluster.startBroker(b, cluster.api.DataDir, append([]string{"--bus", ns.URL}, flags...)...)}
	b.Logf("broker flags: %s", strings.Join(flags, " "))

	idle := map[string]brokerMem{}
	for _, c := range []struct {
		name string
		f    *fleet
	}{{"bbolt", bolt}, {"cluster", cluster}} {
		r := measureDevices(b, c.f, c.name, n, profiles)
		d := r.after.minus(r.registered)
		idle[c.name] = d
		reg := r.registered.minus(r.empty)
		b.Logf("%s: registry of %d devices: RSS %.1f KiB/device, live heap %.1f KiB/device", c.name, n, kib(reg.rss, n), kib(reg.heapAlloc, n))
		b.Logf("%s: %d idle devices: RSS %.1f KiB/device (%.0f -> %.0f MiB), live heap %.1f KiB/device, heap in use %.1f KiB/device, stacks %.1f KiB/device, goroutines %.2f/device (%d -> %d)",
			c.name, n, kib(d.rss, n), mib(r.registered.rss), mib(r.after.rss), kib(d.heapAlloc, n), kib(d.heapInuse, n),
			kib(d.stackInuse, n), float64(d.goroutines)/float64(n), r.registered.goroutines, r.after.goroutines)
		b.Logf("%s: under load (%d messages in %s): peak RSS %.1f KiB/device (%.0f MiB), peak heap in use %.1f KiB/device (%.1fx the idle live heap), CPU %.0f ms per 1,000 messages",
			c.name, r.load.sent, memLoadFor, kib(r.load.peakRSS-r.registered.rss, n), mib(r.load.peakRSS),
			kib(r.load.peakHeap-r.registered.heapAlloc, n), float64(r.load.peakHeap)/float64(r.after.heapAlloc),
			1000*r.load.cpu.Seconds()*1000/float64(r.load.sent))
		b.ReportMetric(kib(d.rss, n), c.name+"-rss-KiB/device")
		b.ReportMetric(kib(d.heapAlloc, n), c.name+"-heap-KiB/device")
		b.ReportMetric(float64(d.goroutines)/float64(n), c.name+"-goroutines/device")
		b.ReportMetric(kib(r.load.peakRSS-r.registered.rss, n), c.name+"-load-rss-KiB/device")
	}
	b.Logf("cluster/bbolt per idle device: RSS %.2f, live heap %.2f, goroutines %.2f",
		float64(idle["cluster"].rss)/float64(idle["bbolt"].rss), float64(idle["cluster"].heapAlloc)/float64(idle["bbolt"].heapAlloc),
		float64(idle["cluster"].goroutines)/float64(idle["bbolt"].goroutines))
}

// memRun is one broker's readings: empty, with the devices registered,
// with them connected and idle, and under load.
type memRun struct {
	empty, registered, after brokerMem
	load                     loadMem
}

// loadMem is what the load phase saw.
type loadMem struct {
	sent              int
	peakRSS, peakHeap uint64
	cpu               time.Duration
}

// measureDevices registers n devices on f, connects them all to its one
// broker (each subscribes to devices/<id>/cmd at QoS 1 and publishes
// once), waits memSettle, then runs the load phase, reading the broker
// at each step. The connections stay open until b's cleanup.
func measureDevices(b *testing.B, f *fleet, name string, n int, profiles string) memRun {
	brk := f.brokers[0]
	var r memRun
	r.empty = readBrokerMem(b, brk, "")
	admin := adminClient(b, f.api)
	key := pki.Key(b)
	csr := []byte(pki.CSRPEM(b, key, ""))
	start := time.Now()
	certs := make([]tls.Certificate, n)
	parallel(b, n, 8, func(i int) error {
		var err error
		certs[i], err = issueKeyed(admin, fmt.Sprintf("mem-%05d", i), key, csr)
		return err
	})
	b.Logf("%s: %d devices registered and certified in %s", name, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(memSettle) // the registration burst's garbage goes back, as after the connects
	r.registered = readBrokerMem(b, brk, profilePath(profiles, name+"-before.pb.gz"))

	start = time.Now()
	conns := make([]*mqttConn, n)
	closeAtCleanup(b, conns)
	parallel(b, n, 16, func(i int) error {
		id := fmt.Sprintf("mem-%05d", i)
		c, err := dialMQTT(brk.MQTT, deviceTLS(f.roots, certs[i]))
		if err != nil {
			return err
		}
		conns[i] = c
		if err := c.send(mqttwire.ConnectOptions{ClientID: id, KeepAlive: 600, Clean: true}.Packet()); err != nil {
			return err
		}
		if code, _, err := c.connack(); err != nil || code != 0 {
			return fmt.Errorf("connect %s: code %d, %v", id, code, err)
		}
		if code, err := subscribeOnce(c, "devices/"+id+"/cmd", 1); err != nil || code > 1 {
			return fmt.Errorf("subscribe %s: SUBACK %#x, %v", id, code, err)
		}
		return c.send(mqttwire.Publish("devices/"+id+"/telemetry", 0, 0, []byte("21.5")))
	})
	b.Logf("%s: %d devices connected, subscribed and published in %s", name, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(memSettle) // the broker's idle state is what is measured: nothing to await
	r.after = readBrokerMem(b, brk, profilePath(profiles, name+"-after.pb.gz"))
	r.load = loadDevices(b, brk, conns)
	return r
}

// loadDevices publishes QoS 1 from the devices in turn, memRate a second,
// for memLoadFor, sampling the broker's RSS and heap four times a second
// (the PUBACKs wait unread in the sockets: a few bytes each).
func loadDevices(b *testing.B, brk *server, conns []*mqttConn) loadMem {
	var l loadMem
	cpu0 := procCPU(brk.PID)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sample := time.NewTicker(250 * time.Millisecond)
	defer sample.Stop()
	payload := make([]byte, 64)
	for end := time.Now().Add(memLoadFor); time.Now().Before(end); {
		select {
		case <-tick.C:
			for range memRate / 100 {
				c := conns[l.sent%len(conns)]
				id := fmt.Sprintf("mem-%05d", l.sent%len(conns))
				if err := c.send(mqttwire.Publish("devices/"+id+"/telemetry", 1, uint16(1+l.sent/len(conns)%60000), payload)); err != nil {
					b.Fatalf("publish %s: %v", id, err)
				}
				l.sent++
			}
		case <-sample.C:
			l.peakRSS = max(l.peakRSS, statusKiB(fmt.Sprintf("/proc/%d/status", brk.PID), "VmRSS:")<<10)
			l.peakHeap = max(l.peakHeap, uint64(max(0, metric(b, brk, "go_memstats_heap_inuse_bytes"))))
		}
	}
	l.cpu = procCPU(brk.PID) - cpu0
	return l
}
