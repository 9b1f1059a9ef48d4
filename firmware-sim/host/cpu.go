package host

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNoCPU is returned by CPUTime when /proc does not say.
var ErrNoCPU = errors.New("host: CPU time unknown")

// clockTick is the unit of /proc/PID/stat's times (USER_HZ): 100 on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// CPUTime returns the user plus system CPU time process pid has used so
// far (pid 0: this process), in steps of 10 ms.
func CPUTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoCPU, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count the fields after its closing one. utime and stime are fields
	// 14 and 15, so the 12th and 13th after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: %s: no command name", ErrNoCPU, path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: %s: %d fields", ErrNoCPU, path, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %q: %w", ErrNoCPU, path, s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
