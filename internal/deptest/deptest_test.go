package deptest

import "testing"

func TestForbids(t *testing.T) {
	tests := []struct {
		name, bad, path string
		want            bool
	}{
		{"ok/exact", "go.etcd.io/bbolt", "go.etcd.io/bbolt", true},
		{"ok/below", "go.etcd.io/etcd", "go.etcd.io/etcd/client/v3", true},
		{"ok/prefix-rule", "github.com/mochi-mqtt/", "github.com/mochi-mqtt/server/v2", true},
		{"error/sibling-name", "github.com/fleetgate/fleetgate/store", "github.com/fleetgate/fleetgate/storefront", false},
		{"error/other", "go.etcd.io/bbolt", "encoding/json", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := forbids(tc.bad, tc.path); got != tc.want {
				t.Errorf("forbids(%q, %q) = %v, want %v", tc.bad, tc.path, got, tc.want)
			}
		})
	}
}

// TestCheck runs the checker on itself: it links only the standard library.
func TestCheck(t *testing.T) {
	DepChecker{Pkg: ".", StdlibOnly: true, WantDeps: []string{"os/exec"}}.Check(t)
}
