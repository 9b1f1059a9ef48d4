package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"
)

// runtimeFiles are the files the server needs to run; the admin pair is not
// among them, so an operator may move admin.key off the server.
var runtimeFiles = []string{
	RootCertFile, RootKeyFile,
	DeviceCACertFile, DeviceCAKeyFile,
	OperatorCACertFile, OperatorCAKeyFile,
	ServerCertFile, ServerKeyFile,
}

// MaterialFiles returns the names of the files in a CA directory that Load
// reads: a watcher that sees one of them change should load the directory
// again.
func MaterialFiles() []string {
	return append(slices.Clone(runtimeFiles), TrustedDeviceCAsFile, DeviceCANextCertFile,
		PreviousRootCertFile, RootCrossCertFile, RootNextCertFile, TrustBundleFile)
}

// Load reads an existing CA directory. Every runtime file must exist
// (missing files yield ErrIncomplete naming them) and the material must be
// consistent: each key matches its certificate, the device CA and the server
// certificate are signed by the root, and the operator CA is a separate
// self-signed CA (ErrCorrupt otherwise). The optional TrustedDeviceCAsFile
// must hold only CA certificates signed by the root.
//
// Load creates and changes nothing (use Bootstrap for that), so it may run
// at any moment, for instance while `fleetgate ca` rewrites files: every
// file is replaced atomically, and the one state in which two files
// disagree (a rotation stopped after installing the new intermediate's key
// but before its certificate) is read as the finished rotation, taking the
// certificate from the staged DeviceCANextCertFile. RecoverRotation
// completes it on disk.
func Load(dir string) (*CA, error) {
	return load(dir, time.Now, nil)
}

// LoadWithKeys is Load for a CA directory whose CA keys may be references
// to keys in a token: keys finds them (a nil keys finds none).
func LoadWithKeys(dir string, keys KeyStore) (*CA, error) {
	return load(dir, time.Now, keys)
}

func load(dir string, now func() time.Time, keys KeyStore) (*CA, error) {
	missing, err := missingFiles(dir, runtimeFiles)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s lacks %v: %w", ErrIncomplete, dir, missing, fs.ErrNotExist)
	}

	var errs []error
	pair := func(certName, keyName string) (*x509.Certificate, crypto.Signer) {
		c, k, err := readPair(dir, certName, keyName, keys)
		if err != nil {
			errs = append(errs, err)
		}
		return c, k
	}
	root, _, err := readStagedPair(dir, RootCertFile, RootKeyFile, RootNextCertFile, keys)
	if err != nil {
		errs = append(errs, err)
	}
	rollover, err := readRollover(dir)
	if err != nil {
		errs = append(errs, err)
	}
	deviceCA, deviceKey, err := readDevicePair(dir, keys)
	if err != nil {
		errs = append(errs, err)
	}
	operatorCA, operatorKey := pair(OperatorCACertFile, OperatorCAKeyFile)
	server, serverKey := pair(ServerCertFile, ServerKeyFile)
	trusted, err := readTrusted(dir)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	roots := rollover.roots(root)
	if err := checkHierarchy(roots, deviceCA, operatorCA, server); err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	trusted, err = checkTrusted(trusted, roots, deviceCA, operatorCA)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if err := rollover.check(root, now()); err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	trustedKeys, err := readKeptKeys(dir, trusted, keys)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	return &CA{
		dir:         dir,
		now:         now,
		root:        root,
		deviceCA:    deviceCA,
		deviceKey:   deviceKey,
		trusted:     trusted,
		trustedKeys: trustedKeys,
		operatorCA:  operatorCA,
		operatorKey: operatorKey,
		server: tls.Certificate{
			Certificate: rollover.serverChain(root, server),
			PrivateKey:  serverKey,
			Leaf:        server,
		},
		previous:    rollover.previous,
		trustBundle: rollover.bundle,
	}, nil
}

// missingFiles returns the names that do not exist in dir.
func missingFiles(dir string, names []string) ([]string, error) {
	var missing []string
	for _, name := range names {
		ok, err := exists(dir, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// checkHierarchy verifies who signed whom: the device CA and the server
// certificate are signed by a root in force (roots: the current root
// first, then during a rollover the previous one). The operator CA must
// not share a key with the root or the device CA: if it did, device
// certificates would chain to the operator pool and devices could act as
// operators.
func checkHierarchy(roots []*x509.Certificate, deviceCA, operatorCA, server *x509.Certificate) error {
	root := roots[0]
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
	}
	for _, nc := range []struct {
		name string
		cert *x509.Certificate
	}{{RootCertFile, root}, {DeviceCACertFile, deviceCA}, {OperatorCACertFile, operatorCA}} {
		if !nc.cert.BasicConstraintsValid || !nc.cert.IsCA {
			bad("%s is not a CA certificate", nc.name)
		}
	}
	if server.IsCA {
		bad("%s is a CA certificate", ServerCertFile)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		bad("%s is not self-signed: %v", RootCertFile, err)
	}
	if !signedByAny(deviceCA, roots) {
		bad("%s is not signed by %s", DeviceCACertFile, RootCertFile)
	}
	if !signedByAny(server, roots) {
		bad("%s is not signed by %s", ServerCertFile, RootCertFile)
	}
	if err := operatorCA.CheckSignatureFrom(operatorCA); err != nil {
		bad("%s is not self-signed: %v", OperatorCACertFile, err)
	}
	if slices.ContainsFunc(roots, func(r *x509.Certificate) bool { return samePublicKey(operatorCA, r) }) ||
		samePublicKey(operatorCA, deviceCA) {
		bad("%s shares its key with the device hierarchy", OperatorCACertFile)
	}
	return errors.Join(errs...)
}

// signedByAny reports whether one of roots signed c.
func signedByAny(c *x509.Certificate, roots []*x509.Certificate) bool {
	return slices.ContainsFunc(roots, func(r *x509.Certificate) bool { return c.CheckSignatureFrom(r) == nil })
}

func samePublicKey(a, b *x509.Certificate) bool {
	eq, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.PublicKey)
}

// readDevicePair reads the issuing intermediate and its key, finishing a
// rotation in flight (readStagedPair).
func readDevicePair(dir string, keys KeyStore) (*x509.Certificate, crypto.Signer, error) {
	return readStagedPair(dir, DeviceCACertFile, DeviceCAKeyFile, DeviceCANextCertFile, keys)
}

// readStagedPair reads a CA certificate and its key. When they do not
// match but the staged certificate nextName of a rotation matches the key,
// the rotation stopped (or is) between installing the key and the
// certificate: the staged certificate is the one in force. If the staged
// file is gone too, the rotation installed it while we read: the
// certificate is read again.
func readStagedPair(dir, certName, keyName, nextName string, keys KeyStore) (*x509.Certificate, crypto.Signer, error) {
	c, err := readCert(dir, certName)
	if err != nil {
		return nil, nil, err
	}
	k, err := readKey(dir, keyName, keys)
	if err != nil {
		return nil, nil, err
	}
	if keyMatches(k, c.PublicKey) {
		return c, k, nil
	}
	for _, name := range []string{nextName, certName} {
		if again, err := readCert(dir, name); err == nil && keyMatches(k, again.PublicKey) {
			return again, k, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: %s does not match %s", ErrCorrupt, keyName, certName)
}
