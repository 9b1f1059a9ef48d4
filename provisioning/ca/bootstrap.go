package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// BootstrapOptions configures Bootstrap. The zero value is ready to use.
type BootstrapOptions struct {
	// ServerNames are extra DNS names and IP addresses for the server
	// certificate. localhost, 127.0.0.1, ::1 and the host name are always
	// included.
	ServerNames []string
	// Now returns the current time; nil means time.Now. The returned CA uses
	// it for issuing as well.
	Now func() time.Time
	// Logger receives a line when the server certificate is renewed or
	// reissued; nil discards.
	Logger *slog.Logger
	// Keys finds the CA keys that the directory names by reference, kept
	// in a PKCS#11 token (written by CreateInToken); nil when all keys are
	// files.
	Keys KeyStore
}

// caFiles are the files of the three CAs. They are created together on a
// first start and never recreated afterwards.
var caFiles = []string{
	RootCertFile, RootKeyFile,
	DeviceCACertFile, DeviceCAKeyFile,
	OperatorCACertFile, OperatorCAKeyFile,
}

// allFiles are every file Bootstrap may create. Within each pair it writes
// the key first, so a certificate on disk always has its key beside it.
var allFiles = append(append([]string(nil), caFiles...), ServerKeyFile, ServerCertFile, AdminKeyFile, AdminCertFile)

// Bootstrap creates any missing CA material in dir and loads it.
//
// On a first start (none of the CA files exists) it creates the directory
// with mode 0700 and every file: keys as PKCS#8 PEM with mode 0600,
// certificates as PEM with mode 0644, each written atomically. On later
// starts it loads what is there; the CA pairs are never recreated, because a
// new root or intermediate would silently orphan every certificate issued
// before: if any CA file is missing, it returns ErrIncomplete naming them and
// writes nothing. No existing key is ever overwritten.
//
// The server certificate is the exception: it is created if missing, and
// reissued (for the same key) when fewer than ServerRenewBefore remain, when
// it lacks one of the wanted names, or when it no longer matches the root or
// its key. The admin pair is written only together with a new operator CA,
// so an operator may move admin.key away from the server.
//
// A device intermediate rotation that a crash stopped half way is finished
// (or its unused staged files removed) by RecoverRotation before anything
// else.
//
// Bootstrap returns the names of the files it created (not those it
// renewed), so that the caller can tell the user about a new CA.
func Bootstrap(dir string, opts BootstrapOptions) (*CA, []string, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := resolveServerNames(opts.ServerNames)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, nil, fmt.Errorf("create CA directory: %w", err)
	}
	// MkdirAll leaves an existing directory as it was and obeys the umask;
	// the directory holds keys, so tighten it either way.
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, nil, fmt.Errorf("restrict CA directory: %w", err)
	}

	var present, missing []string
	for _, name := range allFiles {
		ok, err := exists(dir, name)
		if err != nil {
			return nil, nil, fmt.Errorf("CA directory %s: %w", dir, err)
		}
		if ok {
			present = append(present, name)
		} else if isCAFile(name) {
			missing = append(missing, name)
		}
	}

	var created []string
	switch {
	case len(present) == 0:
		created, err = createCAs(dir, now(), fileKey)
		if err != nil {
			return nil, nil, err
		}
	case len(missing) > 0:
		return nil, nil, fmt.Errorf("%w: %s lacks %v while %v exist; refusing to create new CA keys next to existing material: restore the directory from a backup, or remove it if it was never used",
			ErrIncomplete, dir, missing, present)
	}

	// A rotation stopped by a crash is finished before anything else reads
	// the device CA files.
	finished, err := RecoverRotation(dir)
	if err != nil {
		return nil, nil, err
	}
	if finished {
		log.Info("finished an interrupted device intermediate rotation", "file", DeviceCACertFile)
	}
	if finished, err := recoverRootInstall(dir); err != nil {
		return nil, nil, err
	} else if finished {
		log.Info("finished installing the new root of an interrupted root rollover", "file", RootCertFile)
	}

	more, err := ensureServer(dir, names, now(), log, opts.Keys)
	if err != nil {
		return nil, nil, err
	}
	created = append(created, more...)
	// The directory must load before the trust bundle is added to it: a
	// failed start leaves the directory as it found it.
	ca, err := load(dir, now, opts.Keys)
	if err != nil {
		return nil, nil, err
	}
	if wrote, err := ensureSoleRootBundle(dir, now(), opts.Keys); err != nil {
		return nil, nil, err
	} else if wrote {
		log.Info("signed a trust bundle listing the root", "file", TrustBundleFile)
		if ca, err = load(dir, now, opts.Keys); err != nil {
			return nil, nil, err
		}
	}
	return ca, created, nil
}

func isCAFile(name string) bool {
	for _, f := range caFiles {
		if f == name {
			return true
		}
	}
	return false
}

// caKeySource makes the key of one CA (root, device or operator, named by
// its key file) and returns it with what its key file holds: a PEM private
// key, or a reference to a key in a token.
type caKeySource func(keyFile string) (crypto.Signer, []byte, error)

// fileKey is the default caKeySource: a new key, kept as a PEM file.
func fileKey(string) (crypto.Signer, []byte, error) {
	k, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := EncodeKeyPEM(k)
	if err != nil {
		return nil, nil, err
	}
	return k, keyPEM, nil
}

// createCAs generates the root, the device CA, the operator CA (their keys
// from newCAKey) and the admin certificate, then writes them. Generating
// first means a failure in crypto leaves nothing on disk; a failure while
// writing is reported with what was already written.
func createCAs(dir string, now time.Time, newCAKey caKeySource) ([]string, error) {
	rootKey, rootFile, err := newCAKey(RootKeyFile)
	if err != nil {
		return nil, err
	}
	root, err := sign(caTemplate("fleetgate root CA", now, rootLifetime, 1, nil), nil, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	deviceKey, deviceFile, err := newCAKey(DeviceCAKeyFile)
	if err != nil {
		return nil, err
	}
	deviceCA, err := sign(caTemplate("fleetgate device CA", now, deviceCALifetime, 0,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}), root, deviceKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	operatorKey, operatorFile, err := newCAKey(OperatorCAKeyFile)
	if err != nil {
		return nil, err
	}
	operatorCA, err := sign(caTemplate("fleetgate operator CA", now, operatorCALifetime, 0,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}), nil, operatorKey.Public(), operatorKey)
	if err != nil {
		return nil, err
	}
	adminCert, adminKey, err := issueOperator(operatorCA, operatorKey, adminName, now, DefaultOperatorLifetime)
	if err != nil {
		return nil, err
	}

	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{RootKeyFile, rootFile, keyMode}, {RootCertFile, EncodeCertPEM(root), certMode},
		{DeviceCAKeyFile, deviceFile, keyMode}, {DeviceCACertFile, EncodeCertPEM(deviceCA), certMode},
		{OperatorCAKeyFile, operatorFile, keyMode}, {OperatorCACertFile, EncodeCertPEM(operatorCA), certMode},
		{AdminKeyFile, adminKey, keyMode}, {AdminCertFile, adminCert, certMode},
	}
	var created []string
	for _, f := range files {
		if err := createFile(dir, f.name, f.data, f.mode); err != nil {
			return created, fmt.Errorf("write %s (already written: %v): %w", f.name, created, err)
		}
		created = append(created, f.name)
	}
	return created, nil
}
