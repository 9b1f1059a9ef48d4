package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// Profiles written to Config.ProfileDir with every device connected and
// idle.
const (
	ProfileHeap      = "sim-heap.pb.gz"      // live heap after a collection
	ProfileGoroutine = "sim-goroutine.pb.gz" // every goroutine, by stack
)

// simRSS returns this process's resident memory after returning what
// the collector freed, so readings compare live memory, not garbage.
func simRSS() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	v, _ := host.RSS(0)
	return v
}

// runtimeSample is the live heap, the goroutine stacks and the number of
// goroutines, read right after simRSS's collection.
func runtimeSample() (heap, stack, goroutines uint64) {
	s := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	rtmetrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
}

// readCPU puts the run's CPU time and the collector's share of it into
// the report, at the end of the run.
func (s *sim) readCPU() {
	rt := s.rep.Memory.Sim
	if rt == nil {
		return
	}
	// The process's CPU time from the kernel; the runtime's own CPU
	// classes count a P held by a thread the kernel descheduled as busy.
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rt.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		rt.MaxRSS = uint64(ru.Maxrss) << 10 // KiB on Linux
	}
	m := []rtmetrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	rtmetrics.Read(m)
	rt.GCCPUSeconds, rt.GCCycles = m[0].Value.Float64(), m[1].Value.Uint64()
}

// readBaseline takes the readings before the ramp.
func (s *sim) readBaseline() {
	mem := &s.rep.Memory
	mem.SimBaseline = simRSS()
	mem.Sim = &report.RuntimeMemory{}
	mem.Sim.HeapBaseline, mem.Sim.StackBaseline, mem.Sim.GoroutinesBaseline = runtimeSample()
}

// readSimConnected takes the simulator's readings with every device
// connected and idle, and writes the profiles when asked to.
func (s *sim) readSimConnected() {
	mem := &s.rep.Memory
	mem.SimConnected = simRSS()
	mem.Sim.HeapConnected, mem.Sim.StackConnected, mem.Sim.GoroutinesConnected = runtimeSample()
	if s.cfg.ProfileDir == "" {
		return
	}
	if err := writeProfiles(s.cfg.ProfileDir); err != nil {
		s.log.Warn("could not write the profiles", "err", err)
		s.m.errs.Inc("profile: " + errClass(err))
	}
}

// writeProfiles writes the heap and goroutine profiles to dir.
func writeProfiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, file := range map[string]string{"heap": ProfileHeap, "goroutine": ProfileGoroutine} {
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s profile: %w", name, err)
		}
	}
	return nil
}
