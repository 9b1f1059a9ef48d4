package test

import (
	"fmt"
	"os"
	"testing"
	"time"

	fgserver "github.com/fleetgate/fleetgate/server"
)

// Per-device memory BenchmarkFleet plans with (live memory, after a
// collection), from the measurements in README's "100,000 devices on one
// machine": a simulated device 80 KiB (firmware-sim, 2,000 devices in one
// process, with agent.Shared), a device on a broker 110 KiB (94-124 KiB
// in the 24,914-device run), etcd 0.4 GiB at 25,000 devices; and what is
// outside every process: the kernel's two loopback sockets per device.
const (
	simBytesPerDevice    = 80 << 10
	brokerBytesPerDevice = 110 << 10
	etcdBytesPerDevice   = 16 << 10
	kernelBytesPerDevice = 4 << 10
	// fixedHeadroom is the API process (0.4 GiB at 100,000), nats-server
	// (0.6 GiB), the kernel's own memory beside the sockets (~0.6 GiB),
	// this test process and the guard's floor (0.75 GiB). With 1 GiB here
	// the brokers grew to their limits under the message load and the
	// machine fell to 0.6 GiB available as the revocation started.
	fixedHeadroom = 3 << 30
	// qos1Budget is the QoS 1 messages per second the whole fleet may
	// publish: the brokers store each in JetStream before its PUBACK, at
	// ~3,000-4,000 a second on this machine with nothing else to do
	// (README, bus routing), and here they also serve the handshakes and
	// keep-alives of 100,000 devices on the same two cores.
	qos1Budget = 1000
)

// fleetMemory is how BenchmarkFleet splits a memory budget: each
// simulator's and each broker's GOMEMLIMIT, in proportion to what their
// devices need live, after the headroom for etcd, the kernel and the rest.
// The limit is soft: a process whose live memory grows past it collects
// more often (CPU) rather than fail, so the budget becomes collector work
// instead of the machine running out of memory.
type fleetMemory struct {
	budget, headroom uint64
	sim, broker      uint64 // GOMEMLIMIT of each process
}

// fleetMemoryPlan splits FLEETGATE_FLEET_MEMORY (a size such as 20GiB,
// default 24GiB or the machine's memory if less) for c.
func fleetMemoryPlan(b *testing.B, c fleetBench) fleetMemory {
	m := fleetMemory{budget: 24 << 30}
	if total := statusKiB("/proc/meminfo", "MemTotal:") << 10; total > 0 && total < m.budget {
		m.budget = total
	}
	if v := os.Getenv("FLEETGATE_FLEET_MEMORY"); v != "" {
		n, err := fgserver.ParseByteSize(v)
		if err != nil || n <= 0 {
			b.Fatalf("FLEETGATE_FLEET_MEMORY=%q: want a size such as 20GiB (%v)", v, err)
		}
		m.budget = uint64(n)
	}
	n := uint64(c.devices)
	m.headroom = fixedHeadroom + n*(etcdBytesPerDevice+kernelBytesPerDevice)
	if m.headroom >= m.budget {
		b.Fatalf("memory budget %.1f GiB: under the %.1f GiB of headroom %d devices need", gib(m.budget), gib(m.headroom), c.devices)
	}
	left := float64(m.budget - m.headroom)
	simShare := left * simBytesPerDevice / (simBytesPerDevice + brokerBytesPerDevice)
	m.sim = uint64(simShare / float64(c.procs))
	m.broker = uint64((left - simShare) / float64(c.brokers))
	return m
}

// limit is a GOMEMLIMIT value.
func limit(b uint64) string { return fmt.Sprintf("%dMiB", b>>20) }

// defaultPublish is the publish interval BenchmarkFleet uses unless told:
// 45 s, or longer when the fleet would publish more than qos1Budget QoS 1
// messages a second (100,000 devices: 100 s).
func defaultPublish(devices int) time.Duration {
	d := 45 * time.Second
	if need := time.Duration(float64(devices) / qos1Budget * float64(time.Second)); need > d {
		d = need.Round(time.Second)
	}
	return d
}
