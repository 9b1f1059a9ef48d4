package wire_test

import (
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/deptest"
)

// TestStandardLibraryOnly keeps the wire types linkable by anything,
// including the device agent built for small boards.
func TestStandardLibraryOnly(t *testing.T) {
	deptest.DepChecker{Pkg: ".", StdlibOnly: true, WantDeps: []string{"time"}}.Check(t)
}
