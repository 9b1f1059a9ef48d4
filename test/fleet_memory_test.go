package test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// procMem is one child process of this test process and its resident
// memory.
type procMem struct {
	pid  int
	name string
	rss  uint64
}

// childMemory lists this process's children (etcd, nats-server, the
// fleetgate processes, the simulators) with their resident memory,
// largest first.
func childMemory() []procMem {
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []procMem
	for _, st := range stats {
		raw, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(raw)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(self) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		p := procMem{pid: pid, name: s[strings.IndexByte(s, '(')+1 : i]}
		p.rss = statusKiB(filepath.Join(filepath.Dir(st), "status"), "VmRSS:") << 10
		out = append(out, p)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].rss > out[b].rss })
	return out
}

// statusKiB reads a "Key: N kB" line of a /proc status or meminfo file.
func statusKiB(path, key string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// memoryLine sums the children's memory by program.
func memoryLine(ps []procMem) string {
	byName := map[string]uint64{}
	count := map[string]int{}
	var total uint64
	for _, p := range ps {
		byName[p.name] += p.rss
		count[p.name]++
		total += p.rss
	}
	parts := []string{fmt.Sprintf("children %.1f GiB", gib(total))}
	for name, v := range byName {
		parts = append(parts, fmt.Sprintf("%s x%d %.1f GiB", name, count[name], gib(v)))
	}
	sort.Strings(parts[1:])
	avail := statusKiB("/proc/meminfo", "MemAvailable:") << 10
	// Files in tmpfs (etcd's and JetStream's data under TMPDIR=/dev/shm)
	// are memory no process's resident set shows in full.
	shmem := statusKiB("/proc/meminfo", "Shmem:") << 10
	return strings.Join(parts, ", ") + fmt.Sprintf("; tmpfs %.1f GiB; machine available %.1f GiB", gib(shmem), gib(avail))
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }

// guardMemory prints the children's memory every 30 s and cancels the
// run when the machine has less than floor available (the machine is
// shared: running it out of memory would kill other work), after
// logging each process's memory at that moment.
func guardMemory(ctx context.Context, cancel context.CancelCauseFunc, floor uint64, logf func(string, ...any)) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		avail := statusKiB("/proc/meminfo", "MemAvailable:") << 10
		if n%15 == 0 || avail < floor {
			logf("memory: %s", memoryLine(childMemory()))
		}
		if avail < floor {
			for _, p := range childMemory() {
				logf("memory at the stop: pid %d %s %.0f MiB", p.pid, p.name, float64(p.rss)/(1<<20))
			}
			cancel(fmt.Errorf("machine memory available fell to %.1f GiB (floor %.1f GiB): run stopped", gib(avail), gib(floor)))
			return
		}
	}
}
