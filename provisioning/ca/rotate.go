package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Staged files of a rotation: the new intermediate is written under these
// names first and renamed into place last.
const (
	DeviceCANextCertFile = "device-ca.next.crt"
	DeviceCANextKeyFile  = "device-ca.next.key"
)

// Rotation is the outcome of RotateIntermediate.
type Rotation struct {
	// New is the intermediate that issues device certificates from now on.
	New *x509.Certificate
	// Old is the previous issuing intermediate, now in TrustedDeviceCAsFile.
	Old *x509.Certificate
	// NewKeyLabel is the label of New's key in the token when the
	// intermediate's key is kept in one; "" for a file key.
	NewKeyLabel string
	// OldKeyLabel is the label of Old's key in the token; "" for a file
	// key. Either way the key is kept (KeptKeyFile(Old) holds it or its
	// reference): it signs Old's CRL and OCSP signer until
	// RetireIntermediate, and issues nothing.
	OldKeyLabel string
}

// rotationStep is one file operation of a rotation. Each is atomic, and
// the directory is loadable after any prefix of them.
type rotationStep struct {
	name string
	do   func() error
}

// RotateIntermediate replaces the issuing device intermediate of the CA
// directory dir with a new one signed by the root (which needs root.key in
// dir), and moves the old certificate into TrustedDeviceCAsFile, so that
// devices holding certificates from it still connect. The old key file
// is moved to KeptKeyFile(old): the old intermediate keeps signing its own
// CRL and delegated OCSP signer while it is trusted, and issues nothing
// (RetireIntermediate removes it).
//
// When the intermediate's key is in a token (its key file holds a
// reference), the new key is generated in the same token, labelled after
// the old one and the new serial (keys must be a KeyGenerator), and the
// key file gets a reference to it. The old key stays in the token
// (Rotation.OldKeyLabel), its reference in KeptKeyFile(old). A root key in a token is found through keys too. On a
// failure before the new key file is installed, the new token key is
// deleted again.
//
// It is an offline operation on the files; a running server picks the
// result up when it reloads. The steps are ordered so that a crash at any
// point leaves a directory that Load accepts:
//
//  1. the new key and certificate are written under the staged names
//     DeviceCANextKeyFile and DeviceCANextCertFile (Load ignores them);
//  2. the old key file is copied to KeptKeyFile(old) (Load reads kept
//     keys of trusted intermediates only, and the issuing one is not);
//  3. the old certificate is appended to TrustedDeviceCAsFile (Load
//     ignores the duplicate of the issuing one);
//  4. the staged key is renamed over DeviceCAKeyFile (Load then takes the
//     staged certificate, which matches it);
//  5. the staged certificate is renamed over DeviceCACertFile.
//
// A stopped rotation is finished (after step 4) or its staged files and
// the copy of step 2 are removed (before) by RecoverRotation, which RotateIntermediate and
// Bootstrap run first.
func RotateIntermediate(dir string, now time.Time, keys KeyStore) (Rotation, error) {
	if _, err := RecoverRotation(dir); err != nil {
		return Rotation{}, err
	}
	r, key, steps, err := planRotation(dir, now, keys)
	if err != nil {
		return Rotation{}, errors.Join(err, key.discardUnlessIn(dir, DeviceCAKeyFile))
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return Rotation{}, errors.Join(
				fmt.Errorf("rotate device intermediate: %s: %w (the directory is still loadable; run the rotation again)", s.name, err),
				key.discardUnlessIn(dir, DeviceCAKeyFile))
		}
	}
	return r, nil
}

// planRotation checks the directory, creates the new intermediate in
// memory (its key in the token when the current one is there) and returns
// the file operations that install it. The key it returns is to be
// discarded when the rotation fails, also when planRotation does.
func planRotation(dir string, now time.Time, keys KeyStore) (Rotation, freshKey, []rotationStep, error) {
	current, err := load(dir, func() time.Time { return now }, keys)
	if err != nil {
		return Rotation{}, freshKey{}, nil, err
	}
	rootKey, err := readKey(dir, RootKeyFile, keys)
	if err != nil {
		return Rotation{}, freshKey{}, nil, fmt.Errorf("CA directory %s: the root key is needed to sign a new intermediate: %w", dir, err)
	}
	if !keyMatches(rootKey, current.root.PublicKey) {
		return Rotation{}, freshKey{}, nil, fmt.Errorf("CA directory %s: %w: %s does not match %s", dir, ErrCorrupt, RootKeyFile, RootCertFile)
	}
	trusted, err := readTrusted(dir)
	if err != nil {
		return Rotation{}, freshKey{}, nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}

	serial, err := randomSerial()
	if err != nil {
		return Rotation{}, freshKey{}, nil, err
	}
	oldLabel := tokenKeyLabel(dir, DeviceCAKeyFile)
	key, err := newKeyLike(dir, DeviceCAKeyFile, keys, serial)
	if err != nil {
		return Rotation{}, freshKey{}, nil, err
	}
	// The date in the name tells intermediates apart for people; verifiers
	// match issuers by key identifier as well as by name.
	name := "fleetgate device CA " + now.UTC().Format("2006-01-02 15:04:05Z")
	tmpl := caTemplate(name, now, deviceCALifetime, 0, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	tmpl.SerialNumber = serial
	fresh, err := sign(tmpl, current.root, key.signer.Public(), rootKey)
	if err != nil {
		return Rotation{}, key, nil, err
	}
	keyPEM := key.file
	old := current.deviceCA
	if !slices.ContainsFunc(trusted, old.Equal) {
		trusted = append(trusted, old)
	}
	bundle := encodeBundle(trusted)
	oldKeyFile, err := os.ReadFile(filepath.Join(dir, DeviceCAKeyFile))
	if err != nil {
		return Rotation{}, key, nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}

	steps := []rotationStep{
		{"stage " + DeviceCANextKeyFile, func() error { return createFile(dir, DeviceCANextKeyFile, keyPEM, keyMode) }},
		{"stage " + DeviceCANextCertFile, func() error {
			return createFile(dir, DeviceCANextCertFile, EncodeCertPEM(fresh), certMode)
		}},
		{"keep the old key as " + KeptKeyFile(old), func() error { return createFile(dir, KeptKeyFile(old), oldKeyFile, keyMode) }},
		{"add the old intermediate to " + TrustedDeviceCAsFile, func() error {
			return replaceFile(dir, TrustedDeviceCAsFile, bundle, certMode)
		}},
		{"install " + DeviceCAKeyFile, func() error { return renameInDir(dir, DeviceCANextKeyFile, DeviceCAKeyFile) }},
		{"install " + DeviceCACertFile, func() error { return renameInDir(dir, DeviceCANextCertFile, DeviceCACertFile) }},
	}
	return Rotation{New: fresh, Old: old, NewKeyLabel: key.label, OldKeyLabel: oldLabel}, key, steps, nil
}

// RecoverRotation brings a directory left by a stopped RotateIntermediate
// to a final state: when the new key is installed but its certificate is
// still staged, it makes sure the old certificate is trusted and installs
// the staged one (finished = true); when the issuing pair is intact, it
// removes staged files, which were never used, and the copy of the
// issuing key made for a rotation that did not happen. A directory
// without staged files is left alone.
func RecoverRotation(dir string) (finished bool, err error) {
	finished, err = recoverStagedRotation(dir)
	if err != nil {
		return finished, err
	}
	issuing, err := readCert(dir, DeviceCACertFile)
	if err != nil {
		return finished, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if err := os.Remove(filepath.Join(dir, KeptKeyFile(issuing))); err == nil {
		return finished, syncDir(dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return finished, fmt.Errorf("remove stale %s: %w", KeptKeyFile(issuing), err)
	}
	return finished, nil
}

// recoverStagedRotation is recoverStaged for the device intermediate.
func recoverStagedRotation(dir string) (finished bool, err error) {
	return recoverStaged(dir, DeviceCACertFile, DeviceCAKeyFile, DeviceCANextCertFile, DeviceCANextKeyFile,
		func(old *x509.Certificate) error {
			trusted, err := readTrusted(dir)
			if err != nil {
				return fmt.Errorf("CA directory %s: %w", dir, err)
			}
			if !slices.ContainsFunc(trusted, old.Equal) {
				if err := replaceFile(dir, TrustedDeviceCAsFile, encodeBundle(append(trusted, old)), certMode); err != nil {
					return fmt.Errorf("write %s: %w", TrustedDeviceCAsFile, err)
				}
			}
			return nil
		})
}

// recoverStaged brings a pair installed by staged renames (key first, then
// certificate) to a final state: when the key is installed but the
// certificate is still staged, it runs beforeCert with the old
// certificate and installs the staged one (finished = true); when the
// pair matches, it removes staged files, which were never used.
func recoverStaged(dir, certName, keyName, nextCert, nextKey string, beforeCert func(old *x509.Certificate) error) (finished bool, err error) {
	cert, err := readCert(dir, certName)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	key, err := readPublicKey(dir, keyName)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if publicMatches(key, cert.PublicKey) {
		for _, name := range []string{nextKey, nextCert} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("remove stale %s: %w", name, err)
			}
		}
		return false, syncDir(dir)
	}
	staged, err := readCert(dir, nextCert)
	if err != nil || !publicMatches(key, staged.PublicKey) {
		return false, fmt.Errorf("CA directory %s: %w: %s does not match %s, and no staged rotation explains it",
			dir, ErrCorrupt, keyName, certName)
	}
	if beforeCert != nil {
		if err := beforeCert(cert); err != nil {
			return false, err
		}
	}
	if err := renameInDir(dir, nextCert, certName); err != nil {
		return false, fmt.Errorf("install %s: %w", certName, err)
	}
	return true, nil
}

// renameInDir renames dir/from to dir/to, replacing it, and makes the
// change durable.
func renameInDir(dir, from, to string) error {
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		return err
	}
	return syncDir(dir)
}
