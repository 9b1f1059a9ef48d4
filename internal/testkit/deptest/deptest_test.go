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

// recorder keeps the failures a check reports instead of failing the test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.failures = append(r.failures, f) }
func (r *recorder) Fatalf(f string, a ...any) { r.failures = append(r.failures, f) }

// TestCheckReports checks that forbidden and missing dependencies fail.
func TestCheckReports(t *testing.T) {
	tests := []struct {
		name string
		c    DepChecker
	}{
		{"error/bad-dep", DepChecker{Pkg: ".", BadDeps: []string{"os"}}},
		{"error/missing-dep", DepChecker{Pkg: ".", WantDeps: []string{"net/http"}}},
		{"error/not-stdlib", DepChecker{Pkg: "github.com/fleetgate/fleetgate/provisioning/client", StdlibOnly: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			tc.c.Check(r)
			if len(r.failures) == 0 {
				t.Errorf("%+v passed", tc.c)
			}
		})
	}
}
