package bins

import (
	"os"
	"testing"
)

// TestBuild builds a package once per environment and reuses it.
func TestBuild(t *testing.T) {
	native := Build(t, "github.com/fleetgate/fleetgate/device-agent/cmd/device-agent")
	if again := Build(t, "github.com/fleetgate/fleetgate/device-agent/cmd/device-agent"); again != native {
		t.Errorf("ok/once: %s then %s", native, again)
	}
	cross := Build(t, "github.com/fleetgate/fleetgate/device-agent/cmd/device-agent", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if cross == native {
		t.Error("ok/per environment: one binary for two environments")
	}
	for _, p := range []string{native, cross} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("ok/built: %v", err)
		}
	}
}
