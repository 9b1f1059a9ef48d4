// Package bins builds the project's binaries for tests: once per test
// process, whichever test asks first, so that TestMain builds nothing and
// a run of one test builds only what that test needs. Fleetgate is the
// server; Build is any other main package, natively or cross-compiled.
package bins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BinEnv names an already built fleetgate binary to use instead of
// building one (CI builds it once for all packages).
const BinEnv = "FLEETGATE_BIN"

var fleetgate struct {
	once sync.Once
	path string
	err  string
}

// Fleetgate returns the path of the fleetgate server binary: $FLEETGATE_BIN
// when set, else one built from cmd/fleetgate the first time it is asked
// for in this process.
func Fleetgate(t testing.TB) string {
	t.Helper()
	fleetgate.once.Do(func() {
		if p := os.Getenv(BinEnv); p != "" {
			fleetgate.path = p
			return
		}
		fleetgate.path, fleetgate.err = build("github.com/fleetgate/fleetgate/cmd/fleetgate", "fleetgate", nil)
	})
	if fleetgate.err != "" {
		t.Fatal(fleetgate.err)
	}
	return fleetgate.path
}

// builds holds the binaries of Build, one per package and environment.
var builds struct {
	mu sync.Mutex
	m  map[string]*built
}

type built struct {
	once sync.Once
	path string
	err  string
}

// Build returns the path of the main package pkg (an import path, or a
// directory relative to the test's package) built as releases are:
// -trimpath, without symbol tables or debug information. env is added to
// the go command's environment, for example CGO_ENABLED=0, GOOS=linux and
// GOARCH=arm64 for a cross build. Each package and environment is built
// once per test process, whichever test asks first.
func Build(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	key := strings.Join(append([]string{pkg}, env...), "\x00")
	builds.mu.Lock()
	if builds.m == nil {
		builds.m = map[string]*built{}
	}
	b := builds.m[key]
	if b == nil {
		b = &built{}
		builds.m[key] = b
	}
	n := len(builds.m)
	builds.mu.Unlock()
	b.once.Do(func() {
		name := fmt.Sprintf("%s-%d", filepath.Base(pkg), n)
		b.path, b.err = build(pkg, name, env, "-trimpath", "-ldflags", "-s -w")
	})
	if b.err != "" {
		t.Fatal(b.err)
	}
	return b.path
}

// build runs `go build` for pkg into the build directory, with flags and
// env added.
func build(pkg, name string, env []string, flags ...string) (string, string) {
	return buildIn("", pkg, name, env, flags...)
}

// buildIn is build run in module directory mod ("" for this module).
func buildIn(mod, pkg, name string, env []string, flags ...string) (string, string) {
	dir, err := buildDir()
	if err != nil {
		return "", "bins: " + err.Error()
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), pkg)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = mod
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "bins: building " + pkg + " " + strings.Join(env, " ") + ": " + err.Error() + "\n" + string(b)
	}
	return out, ""
}

// buildDir is where binaries go. `go test` runs the test binary from its
// own temporary work directory and removes that directory afterwards, so
// binaries built next to it leave nothing behind. A test binary run by
// hand from elsewhere gets a fresh temporary directory instead.
func buildDir() (string, error) {
	if self, err := os.Executable(); err == nil {
		dir := filepath.Dir(self)
		if strings.HasPrefix(dir, os.TempDir()) && strings.Contains(dir, "go-build") {
			return os.MkdirTemp(dir, "bins-")
		}
	}
	return os.MkdirTemp("", "fleetgate-bins-")
}
