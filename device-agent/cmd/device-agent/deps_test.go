package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDeviceBinaryDependencies lists what the ARM binaries link: neither
// the TPM simulator (cgo) nor any server code may be among it. Server
// packages would make the binary bigger and bring the registry and the CA
// onto devices.
func TestDeviceBinaryDependencies(t *testing.T) {
	forbidden := []string{
		"github.com/google/go-tpm-tools",
		"github.com/google/go-tpm/tpm2/transport/simulator",
		"go.etcd.io/bbolt",
		"github.com/mochi-mqtt/",
		"github.com/spf13/cobra",
		"github.com/fleetgate/fleetgate/store",
		"github.com/fleetgate/fleetgate/broker",
		"github.com/fleetgate/fleetgate/provisioning/api",
		"github.com/fleetgate/fleetgate/provisioning/ca",
		"github.com/fleetgate/fleetgate/provisioning/attest",
		"github.com/fleetgate/fleetgate/provisioning/client",
		"github.com/fleetgate/fleetgate/provisioning/cli",
	}
	for _, arch := range []struct{ name, goarch, goarm string }{
		{"ok/linux-arm64", "arm64", ""},
		{"ok/linux-armv7", "arm", "7"},
	} {
		t.Run(arch.name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch.goarch, "GOARM="+arch.goarm)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list printed %d packages", len(deps))
			}
			seen := map[string]bool{}
			for _, d := range deps {
				seen[d] = true
				for _, f := range forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("the device binary links %s", d)
					}
				}
			}
			// The packages it must link, or the check above proves nothing.
			for _, want := range []string{"github.com/fleetgate/fleetgate/device-agent/agent",
				"github.com/fleetgate/fleetgate/device-agent/tpmkey", "github.com/eclipse/paho.mqtt.golang"} {
				if !seen[want] {
					t.Errorf("%s is missing from the dependency list", want)
				}
			}
		})
	}
}
