package agent

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic writes b to dir/name so that name holds either nothing (or
// its old contents) or all of b, even across a power cut: write a
// temporary file, fsync it, rename it over name, fsync the directory so
// the rename itself is durable. Mode 0600: keys live here.
func writeAtomic(dir, name string, b []byte) error {
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: write %s: %w", ErrState, name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: fsync %s: %w", ErrState, name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%w: fsync %s: %w", ErrState, dir, err)
	}
	return nil
}
