package host

import (
	"crypto/sha256"
	"errors"
	"os"
	"testing"
	"time"
)

// TestCPUTime: the reading grows by about the CPU a busy loop burns, and
// an unknown process is ErrNoCPU.
func TestCPUTime(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least 200 ms of this process's own CPU, by its own clock.
	var sum [32]byte
	for start, _ := CPUTime(0); ; {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		if now, _ := CPUTime(0); now-start >= 200*time.Millisecond {
			break
		}
	}
	after, err := CPUTime(0)
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 200*time.Millisecond {
		t.Errorf("CPU time grew by %s over a 200 ms busy loop", d)
	}
	if _, err := CPUTime(1 << 30); !errors.Is(err, ErrNoCPU) {
		t.Errorf("error/no such process: %v, want ErrNoCPU", err)
	}
}
