// Package bins builds the project's binaries for tests: once per test
// process, whichever test asks first, so that TestMain builds nothing and
// a run of one test builds only what that test needs.
package bins

import (
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
		fleetgate.path, fleetgate.err = build("github.com/fleetgate/fleetgate/cmd/fleetgate", "fleetgate")
	})
	if fleetgate.err != "" {
		t.Fatal(fleetgate.err)
	}
	return fleetgate.path
}

// build runs `go build` for pkg into the build directory.
func build(pkg, name string) (string, string) {
	dir, err := buildDir()
	if err != nil {
		return "", "bins: " + err.Error()
	}
	out := filepath.Join(dir, name)
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return "", "bins: building " + pkg + ": " + err.Error() + "\n" + string(b)
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
