// Package sigstop freezes a test's child process (SIGSTOP) as a host that
// stalls would be, and lets it run again (SIGCONT).
package sigstop

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// Pause stops process pid and returns once every thread of it has
// stopped: the signal alone returns before they do, and a thread that has
// not stopped yet still answers. name is for the failure message.
func Pause(t testing.TB, pid int, name string) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("sigstop: stop %s: %v", name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !stopped(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("sigstop: %s did not stop within 10 s of SIGSTOP", name)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume lets a paused process run again.
func Resume(t testing.TB, pid int, name string) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("sigstop: continue %s: %v", name, err)
	}
}

// stopped reports whether every thread of process pid is stopped, by
// /proc/PID/task/*/stat.
func stopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// pid (comm) state ...: comm may hold spaces, so look after ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}
