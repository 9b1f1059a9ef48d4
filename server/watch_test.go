package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFingerprintStreamsAsDigested: a file streamed from disk digests as
// its contents do (the config file's digest taken at load is compared
// with the watcher's), also past one read buffer; a missing file and an
// empty one differ.
func TestFingerprintStreamsAsDigested(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{"", "log_level: debug\n", strings.Repeat("x", 3*4096+7)} {
		if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if fingerprintFiles(dir, []string{"c.yaml"}) != digestContents("c.yaml", []byte(body)) {
			t.Fatalf("streamed digest of %d bytes differs from the digest of its contents", len(body))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := fingerprintFiles(dir, []string{"c.yaml"})
	if err := os.Remove(filepath.Join(dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	if fingerprintFiles(dir, []string{"c.yaml"}) == empty {
		t.Fatal("a missing file digests as an empty one")
	}
}
