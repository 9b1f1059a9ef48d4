package fleet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// serverBin is the fleetgate binary the tests start, built once for the
// package (or taken from FLEETGATE_BIN).
var serverBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("FLEETGATE_BIN"); bin != "" {
		serverBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "firmware-sim-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "fleetgate")
	build := exec.Command("go", "build", "-o", serverBin, "../../cmd/fleetgate")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fleetgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
