// Package deptest fails a test when a package links what it must not: the
// wire types and the clients stay free of server code, the registry and
// its databases, and the device agent free of everything a small board
// does not need.
package deptest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// ServerDeps are what no client of the API may link: the registry and
// the databases under it.
var ServerDeps = []string{
	"github.com/fleetgate/fleetgate/store",
	"go.etcd.io/etcd/",
	"go.etcd.io/bbolt",
}

// DepChecker describes what one package may depend on.
type DepChecker struct {
	// Pkg is the package to check, as go list takes it: an import path,
	// or "." for the package under test.
	Pkg string
	// BadDeps are forbidden import paths. Each forbids the package and the
	// packages below it; one ending in "/" forbids every path it starts.
	BadDeps []string
	// StdlibOnly forbids everything outside the standard library except
	// Pkg itself and AllowDeps.
	StdlibOnly bool
	// AllowDeps are the packages (exact import paths) that StdlibOnly lets
	// through.
	AllowDeps []string
	// WantDeps must appear among the dependencies, so that a check over a
	// list gone wrong cannot pass by being empty.
	WantDeps []string
	// Env is added to the environment of go list, for example GOOS and
	// GOARCH to check a cross build.
	Env []string
}

// Check runs go list -deps on Pkg and reports every forbidden dependency
// on t.
func (c DepChecker) Check(t testing.TB) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", c.Pkg)
	cmd.Env = append(os.Environ(), c.Env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", c.Pkg, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	// go list prints the package itself last.
	self, _, _ := strings.Cut(lines[len(lines)-1], " ")
	seen := make(map[string]bool, len(lines))
	for _, line := range lines {
		path, standard, _ := strings.Cut(line, " ")
		seen[path] = true
		if c.StdlibOnly && standard != "true" && path != self && !slices.Contains(c.AllowDeps, path) {
			t.Errorf("%s depends on %s, which is not in the standard library", self, path)
		}
		for _, bad := range c.BadDeps {
			if forbids(bad, path) {
				t.Errorf("%s depends on %s", self, path)
			}
		}
	}
	for _, want := range c.WantDeps {
		if !seen[want] {
			t.Errorf("%s is missing from the dependencies of %s", want, self)
		}
	}
}

// forbids reports whether the rule bad covers the import path.
func forbids(bad, path string) bool {
	if strings.HasSuffix(bad, "/") {
		return strings.HasPrefix(path, bad)
	}
	return path == bad || strings.HasPrefix(path, bad+"/")
}
