package server

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// snapshotDir and restoreDir save and put back every file of dir.
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, en := range entries {
		out[en.Name()] = read(t, dir, en.Name())
	}
	return out
}

func restoreDir(t *testing.T, dir string, saved map[string][]byte) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if _, ok := saved[en.Name()]; !ok {
			os.Remove(filepath.Join(dir, en.Name()))
		}
	}
	for name, data := range saved {
		write(t, dir, name, data)
	}
}
