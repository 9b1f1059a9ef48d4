package coord

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// niceOf reads the niceness from a /proc/<pid>/stat line (field 19).
func niceOf(t *testing.T, stat string) int {
	t.Helper()
	// The command name (field 2) may hold spaces: count from its ')'.
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	n, err := strconv.Atoi(fields[16])
	if err != nil {
		t.Fatalf("stat %q: %v", stat, err)
	}
	return n
}

// TestChildNice starts a child the way runAll does with Nice set and reads
// the niceness the child process itself runs at.
func TestChildNice(t *testing.T) {
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	base := niceOf(t, string(self))
	if base > 12 {
		t.Skipf("this process already runs at niceness %d", base)
	}
	for _, nice := range []int{0, 7} {
		cmd := Options{Binary: "/bin/cat", Nice: nice}.command()
		out, err := exec.Command(cmd[0], append(cmd[1:], "/proc/self/stat")...).Output()
		if err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		if got := niceOf(t, string(out)); got != base+nice {
			t.Errorf("Nice %d: child runs at niceness %d, want %d", nice, got, base+nice)
		}
	}
}
