// Package smallfs mounts a small tmpfs for tests of what happens when a
// disk fills up: a real filesystem answering ENOSPC, not a mock. Mounting
// needs root (CI runs the tests as root); elsewhere the tests skip, unless
// FLEETGATE_REQUIRE_SMALLFS is set, when they fail and say why.
package smallfs

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv, when set to a non-empty value, makes a test that cannot
// mount fail instead of skip.
const RequireEnv = "FLEETGATE_REQUIRE_SMALLFS"

// Mount mounts a tmpfs of size (mount's syntax: "3m") on a fresh temporary
// directory and returns it; the test's cleanup unmounts it.
func Mount(t testing.TB, size string) string {
	t.Helper()
	unavailable := func(why string) {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("smallfs: %s, and %s is set: run the test as root (it mounts a %s tmpfs)", why, RequireEnv, size)
		}
		t.Skipf("smallfs: %s; the test needs root to mount a %s tmpfs (set %s to fail instead)", why, size, RequireEnv)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		unavailable("mount failed: " + err.Error() + ": " + string(out))
	}
	// Registered after TempDir's cleanup, so it runs first: unmount, then
	// remove the directory.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("smallfs: umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
