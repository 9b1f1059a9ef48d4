package main

import (
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/deptest"
)

// TestDeviceBinaryDependencies lists what the ARM binaries link: neither
// the TPM simulator (cgo) nor any server code may be among it. Server
// packages would make the binary bigger and bring the registry and the CA
// onto devices.
func TestDeviceBinaryDependencies(t *testing.T) {
	forbidden := slices.Concat(deptest.ServerDeps, []string{
		"github.com/google/go-tpm-tools",
		"github.com/google/go-tpm/tpm2/transport/simulator",
		"github.com/mochi-mqtt/",
		"github.com/spf13/cobra",
		"github.com/fleetgate/fleetgate/broker",
		"github.com/fleetgate/fleetgate/provisioning/api",
		"github.com/fleetgate/fleetgate/provisioning/ca",
		"github.com/fleetgate/fleetgate/provisioning/attest",
		"github.com/fleetgate/fleetgate/provisioning/client",
		"github.com/fleetgate/fleetgate/provisioning/cli",
	})
	for _, arch := range []struct{ name, goarch, goarm string }{
		{"ok/linux-arm64", "arm64", ""},
		{"ok/linux-armv7", "arm", "7"},
	} {
		t.Run(arch.name, func(t *testing.T) {
			deptest.DepChecker{
				Pkg:     ".",
				BadDeps: forbidden,
				// The packages it must link, or the check proves nothing.
				WantDeps: []string{"github.com/fleetgate/fleetgate/device-agent/agent",
					"github.com/fleetgate/fleetgate/device-agent/tpmkey", "github.com/eclipse/paho.mqtt.golang"},
				Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch.goarch, "GOARM=" + arch.goarm},
			}.Check(t)
		})
	}
}
