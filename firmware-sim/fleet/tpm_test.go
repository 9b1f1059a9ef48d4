//go:build swtpm

package fleet

import (
	"os/exec"
	"testing"
	"time"
)

// TestRunTPM puts two devices of a small fleet through TPM attestation on
// swtpm (Debian swtpm): pre-registered by EK hash, enrolled, connected,
// publishing like the others.
//
//	go test -tags swtpm -run TestRunTPM ./firmware-sim/fleet
func TestRunTPM(t *testing.T) {
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatal("swtpm not found: apt-get install -y swtpm swtpm-tools (.ci/run installs them)")
	}
	r := smallRun(t, func(c *Config) {
		c.Devices, c.TPMDevices, c.Duration, c.QoS = 10, 2, 3*time.Second, 1
	})
	checkReport(t, r)
	if r.Devices.TPMEnrolled != 2 || r.Scenario.TPMDevices != 2 {
		t.Errorf("TPM enrolled %d of %d, want 2", r.Devices.TPMEnrolled, r.Scenario.TPMDevices)
	}
}
