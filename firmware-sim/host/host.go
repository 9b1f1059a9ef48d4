// Package host is what the machine allows and holds, for load tools: the
// open-file limit, resident memory of a process, and loopback source
// addresses to spread many connections over.
package host

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoRSS is returned by RSS when /proc does not say (not Linux, or the
// process is gone).
var ErrNoRSS = errors.New("host: resident memory unknown")

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit, and the
// hard limit to want when the process may (CAP_SYS_RESOURCE). Every
// simulated device holds a socket, so the default soft limit of 1024
// binds long before memory or CPU does. It returns the limits in force
// afterwards; failing to raise the hard limit is not an error, the caller
// compares the result with what it needs.
func RaiseNoFile(want uint64) (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("host: getrlimit: %w", err)
	}
	if want > lim.Max {
		try := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &try) == nil {
			return want, want, nil
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, 0, fmt.Errorf("host: setrlimit: %w", err)
		}
	}
	return lim.Cur, lim.Max, nil
}

// RSS returns the resident memory (VmRSS) of process pid in bytes; pid 0
// is this process.
func RSS(pid int) (uint64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoRSS, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line in %s", ErrNoRSS, path)
}

// PortsPerSource is about how many connections one source address can
// hold to one destination: Linux's default ephemeral port range
// (32768-60999).
const PortsPerSource = 28000

// LoopbackSources returns n source addresses 127.0.0.2 ... for
// connections to a loopback destination, or nil when dest (host or
// host:port) is not an IPv4 loopback address: elsewhere the kernel picks
// the source. On Linux the whole 127.0.0.0/8 answers on lo, so no setup
// is needed.
func LoopbackSources(dest string, n int) []net.IP { return LoopbackSourcesFrom(dest, 0, n) }

// LoopbackSourcesFrom is LoopbackSources skipping the first `first`
// addresses, so processes sharing the machine take disjoint slices:
// 127.0.0.(2+first) ... up to 127.0.0.251.
func LoopbackSourcesFrom(dest string, first, n int) []net.IP {
	h := dest
	if hh, _, err := net.SplitHostPort(dest); err == nil {
		h = hh
	}
	if h == "localhost" {
		h = "127.0.0.1"
	}
	ip := net.ParseIP(h)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() || n < 1 || first < 0 {
		return nil
	}
	out := make([]net.IP, 0, n)
	for i := first; i < first+n && i < 250; i++ {
		out = append(out, net.IPv4(127, 0, 0, byte(2+i)).To4())
	}
	return out
}

// SourcesFor is how many source addresses n connections need, with room
// to spare for connections in TIME_WAIT after a reconnect storm.
func SourcesFor(n int) int { return max(2, (2*n+PortsPerSource-1)/PortsPerSource) }
