package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside a CA directory.
const (
	// RootCertFile and RootKeyFile hold the self-signed root.
	RootCertFile = "root.crt"
	RootKeyFile  = "root.key"

	// DeviceCACertFile and DeviceCAKeyFile hold the intermediate that signs
	// device certificates only.
	DeviceCACertFile = "device-ca.crt"
	DeviceCAKeyFile  = "device-ca.key"

	// ServerCertFile and ServerKeyFile hold the TLS server certificate,
	// signed by the root.
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"

	// OperatorCACertFile and OperatorCAKeyFile hold the separate self-signed
	// CA for operator client certificates.
	OperatorCACertFile = "operator-ca.crt"
	OperatorCAKeyFile  = "operator-ca.key"

	// AdminCertFile and AdminKeyFile hold the first operator's client
	// certificate. The server does not need them at run time.
	AdminCertFile = "admin.crt"
	AdminKeyFile  = "admin.key"
)

// File modes: keys are readable by the server's user only; the directory
// holds keys, so nobody else may list or enter it.
const (
	dirMode  fs.FileMode = 0o700
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644
)

// exists reports whether dir/name exists. Errors other than "not found"
// (for example a permission problem) are returned so that they are not
// mistaken for a missing file, which could lead to creating new keys.
func exists(dir, name string) (bool, error) {
	_, err := os.Lstat(filepath.Join(dir, name))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// createFile writes a new file atomically and fails if it already exists:
// the data goes to a temporary file in the same directory, is synced, and is
// then hard-linked to its final name (link never replaces an existing file,
// even when another process races us), and the directory is synced.
func createFile(dir, name string, data []byte, mode fs.FileMode) error {
	return writeAtomic(dir, name, data, mode, false)
}

// replaceFile writes a file atomically, replacing any previous version. It
// is used only for certificates (server renewal), never for keys.
func replaceFile(dir, name string, data []byte, mode fs.FileMode) error {
	return writeAtomic(dir, name, data, mode, true)
}

func writeAtomic(dir, name string, data []byte, mode fs.FileMode, replace bool) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	// The temporary name is removed on every path: after a link it is a
	// second name for the same file, after a rename it no longer exists.
	defer os.Remove(tmpName)
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	final := filepath.Join(dir, name)
	if replace {
		err = os.Rename(tmpName, final)
	} else {
		err = linkNew(tmpName, final)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// linkNew gives tmp the name final, failing if final exists. File systems
// without hard links fall back to a check followed by a rename, which is
// only unsafe against a concurrent writer (the registry lock already keeps a
// second server out).
func linkNew(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, statErr := os.Lstat(final); statErr == nil {
		return fmt.Errorf("%s: %w", final, fs.ErrExist)
	}
	return os.Rename(tmp, final)
}

// syncDir makes a rename or link durable: without it a crash can lose the
// new directory entry even though the file's data was synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
