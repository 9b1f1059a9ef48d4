package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What BenchmarkBrokerMemory reads of a broker process: the runtime's
// memory statistics and goroutines through its pprof endpoints, RSS and
// CPU time through /proc.

// brokerMem is one reading of a broker process.
type brokerMem struct {
	rss        uint64 // resident memory, bytes
	heapAlloc  uint64 // live heap right after a forced GC
	heapInuse  uint64 // heap spans in use after that GC
	stackInuse uint64
	goroutines int
}

func (m brokerMem) minus(o brokerMem) brokerMem {
	return brokerMem{rss: m.rss - o.rss, heapAlloc: m.heapAlloc - o.heapAlloc, heapInuse: m.heapInuse - o.heapInuse,
		stackInuse: m.stackInuse - o.stackInuse, goroutines: m.goroutines - o.goroutines}
}

// procCPU is the user and system CPU time a process has used.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * time.Second / 100 // USER_HZ
}

func profilePath(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

var memStat = regexp.MustCompile(`(?m)^# (HeapAlloc|HeapInuse|Stack) = (\d+)`)

// readBrokerMem forces a GC in brk (the heap profile's gc=1), reads the
// runtime's memory statistics that profile prints, the goroutine count
// and the process's RSS, and saves the binary heap profile to path when
// set.
func readBrokerMem(b *testing.B, brk *server, path string) brokerMem {
	b.Helper()
	var m brokerMem
	for _, st := range memStat.FindAllStringSubmatch(fetchOps(b, brk, "/debug/pprof/heap?gc=1&debug=1"), -1) {
		v, _ := strconv.ParseUint(st[2], 10, 64)
		switch st[1] {
		case "HeapAlloc":
			m.heapAlloc = v
		case "HeapInuse":
			m.heapInuse = v
		case "Stack":
			m.stackInuse = v
		}
	}
	g := regexp.MustCompile(`goroutine profile: total (\d+)`).FindStringSubmatch(fetchOps(b, brk, "/debug/pprof/goroutine?debug=1"))
	if g == nil || m.heapAlloc == 0 {
		b.Fatalf("broker %s: no memory statistics in its profiles", brk.Ops)
	}
	m.goroutines, _ = strconv.Atoi(g[1])
	m.rss = statusKiB(fmt.Sprintf("/proc/%d/status", brk.PID), "VmRSS:") << 10
	if path != "" {
		if err := os.WriteFile(path, []byte(fetchOps(b, brk, "/debug/pprof/heap")), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func fetchOps(b *testing.B, brk *server, path string) string {
	b.Helper()
	code, body := httpGet(b, brk.Ops+path)
	if code != 200 {
		b.Fatalf("%s%s: status %d", brk.Ops, path, code)
	}
	return body
}

func kib(v uint64, n int) float64 { return float64(int64(v)) / 1024 / float64(n) }
func mib(v uint64) float64        { return float64(v) / (1 << 20) }
