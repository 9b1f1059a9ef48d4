// Package npmkit gives tests the JavaScript clients no one here wrote —
// MQTT.js (npm "mqtt") and Playwright (npm "playwright-core", driving
// Debian's chromium) — installed once per machine from the pinned
// package-lock.json with `npm ci` into the user cache directory.
//
// Tests skip when node or npm is missing, unless FLEETGATE_REQUIRE_NODE is
// set (as in make test), in which case they fail.
package npmkit

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// RequireEnv names the environment variable that turns a missing node or
// npm from a skipped test into a failed one.
const RequireEnv = "FLEETGATE_REQUIRE_NODE"

var (
	//go:embed package.json
	packageJSON []byte
	//go:embed package-lock.json
	packageLock []byte
)

// Modules returns the node_modules directory holding the pinned packages,
// running `npm ci` the first time on this machine (keyed by the lock
// file's digest; a file lock keeps parallel test processes from
// installing twice). Point NODE_PATH at it to require the packages.
func Modules(t testing.TB) string {
	t.Helper()
	Node(t)
	npm := lookup(t, "npm")
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(append(append([]byte{}, packageJSON...), packageLock...))
	dir := filepath.Join(cache, "fleetgate-npm", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	unlock := lockDir(t, dir)
	defer unlock()
	modules := filepath.Join(dir, "node_modules")
	done := filepath.Join(dir, ".installed")
	if _, err := os.Stat(done); err == nil {
		return modules
	}
	for name, body := range map[string][]byte{"package.json": packageJSON, "package-lock.json": packageLock} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatalf("npmkit: %v", err)
		}
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npmkit: npm ci in %s: %v\n%s", dir, err, out)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	return modules
}

// Node returns the path of the node binary.
func Node(t testing.TB) string {
	t.Helper()
	return lookup(t, "node")
}

// Command returns a node process running script (a file path) with
// NODE_PATH set to the pinned modules.
func Command(t testing.TB, script string, args ...string) *exec.Cmd {
	t.Helper()
	modules := Modules(t)
	cmd := exec.Command(Node(t), append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	return cmd
}

// lookup finds a program on PATH, or ends the test as RequireEnv says.
func lookup(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("npmkit: %s not found on PATH (apt-get install nodejs npm)", name)
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
	}
	t.Skipf("%s; set %s=1 to fail instead of skipping", msg, RequireEnv)
	return ""
}

// lockDir takes an exclusive file lock on dir/.lock until the returned
// function is called.
func lockDir(t testing.TB, dir string) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("npmkit: lock %s: %v", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
