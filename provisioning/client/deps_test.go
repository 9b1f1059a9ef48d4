package client_test

import (
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/deptest"
)

// TestNoServerDependencies keeps operator tools free of the registry and
// its databases.
func TestNoServerDependencies(t *testing.T) {
	deptest.DepChecker{
		Pkg:      ".",
		BadDeps:  slices.Concat(deptest.ServerDeps, []string{"github.com/fleetgate/fleetgate/provisioning/api"}),
		WantDeps: []string{"github.com/fleetgate/fleetgate/provisioning/wire"},
	}.Check(t)
}
