//go:build tpmsimulator

package tpmsim

import (
	"testing"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"
)

// Open starts the in-process TPM simulator and closes it at cleanup. Only
// one simulator can run per process, so tests that use it never run in
// parallel.
func Open(t testing.TB) transport.TPM {
	t.Helper()
	sim, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("open simulator: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("close simulator: %v", err)
		}
	})
	return sim
}
