package ca

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	_, full := newTestCA(t)
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   error
	}{
		{"ok/complete", func(*testing.T, string) {}, nil},
		{"error/empty directory", func(t *testing.T, dir string) { removeAll(t, dir, allFiles...) }, ErrIncomplete},
		{"error/server key missing", func(t *testing.T, dir string) { removeAll(t, dir, ServerKeyFile) }, fs.ErrNotExist},
		{"error/key does not match certificate", func(t *testing.T, dir string) {
			copyFile(t, dir, OperatorCAKeyFile, DeviceCAKeyFile)
		}, ErrCorrupt},
		{"error/operator CA is the root", func(t *testing.T, dir string) {
			copyFile(t, dir, RootCertFile, OperatorCACertFile)
			copyFile(t, dir, RootKeyFile, OperatorCAKeyFile)
		}, ErrCorrupt},
		{"error/device CA not signed by root", func(t *testing.T, dir string) {
			copyFile(t, dir, OperatorCACertFile, DeviceCACertFile)
			copyFile(t, dir, OperatorCAKeyFile, DeviceCAKeyFile)
		}, ErrCorrupt},
		{"error/garbage certificate", func(t *testing.T, dir string) {
			writeFile(t, dir, RootCertFile, []byte("not a certificate"))
		}, ErrCorrupt},
		{"error/certificate where a key belongs", func(t *testing.T, dir string) {
			copyFile(t, dir, ServerCertFile, ServerKeyFile)
		}, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCA(t, full)
			tc.change(t, dir)
			c, err := Load(dir)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Dir() != dir || c.Root() == nil || c.ServerCertificate().Leaf == nil {
					t.Errorf("loaded CA incomplete: dir %q", c.Dir())
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func removeAll(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// copyCA copies every file of the CA directory from into a fresh
// temporary directory and returns it.
func copyCA(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range allFiles {
		writeFile(t, dir, name, mustRead(t, from, name))
	}
	return dir
}

func copyFile(t *testing.T, dir, from, to string) {
	t.Helper()
	writeFile(t, dir, to, mustRead(t, dir, from))
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
