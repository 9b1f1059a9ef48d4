package ca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// caKeyFiles are the private keys of the three CAs: none belongs on a
// broker host.
var caKeyFiles = []string{RootKeyFile, DeviceCAKeyFile, OperatorCAKeyFile}

// LoadBrokerBundle reads a broker bundle that WriteBrokerBundle wrote (or
// a copy of it) and returns a CA that serves the bundle's server
// certificate and verifies devices against its intermediates, and holds no
// CA key: its issuing methods and DeviceCRL return ErrNoCAKey, and it has
// no operator CA. DeviceCA is the first intermediate of the bundle (the
// issuing one when it was written), TrustedDeviceCAs the others.
//
// During a root rollover the bundle holds the previous root and the
// cross-certificate too: the roots in force are the root and the previous
// root, PreviousRoot returns the latter, and the server certificate is
// served with the cross-certificate when the current root signed it.
//
// Every bundle file must exist (ErrIncomplete otherwise), the root must be
// a self-signed CA, each intermediate and the server certificate must be
// signed by a root in force, the cross-certificate must carry the root's
// key signed by the previous root, and the server key must match its
// certificate (ErrCorrupt otherwise). Like Load it changes nothing and may
// run at any moment.
func LoadBrokerBundle(dir string) (*CA, error) {
	missing, err := missingFiles(dir, bundleFiles)
	if err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: broker bundle %s lacks %v (write one with `fleetgate ca broker-bundle` on the CA host): %w",
			ErrIncomplete, dir, missing, fs.ErrNotExist)
	}
	root, err := readCert(dir, RootCertFile)
	if err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	rollover, err := readRolloverRoots(dir)
	if err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	deviceCAs, err := readBundleDeviceCAs(dir)
	if err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	server, serverKey, err := readPair(dir, ServerCertFile, ServerKeyFile, nil)
	if err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	roots := rollover.roots(root)
	errs := []error{rollover.check(root, time.Now())}
	if !root.BasicConstraintsValid || !root.IsCA || root.CheckSignatureFrom(root) != nil {
		errs = append(errs, fmt.Errorf("%w: %s is not a self-signed CA certificate", ErrCorrupt, RootCertFile))
	}
	if server.IsCA || !signedByAny(server, roots) {
		errs = append(errs, fmt.Errorf("%w: %s is a CA certificate or not signed by a root of the bundle", ErrCorrupt, ServerCertFile))
	}
	for i, c := range deviceCAs {
		if !c.BasicConstraintsValid || !c.IsCA || !signedByAny(c, roots) {
			errs = append(errs, fmt.Errorf("%w: %s certificate %d (serial %s) is not a CA certificate signed by a root of the bundle (%s, or %s during a root rollover)",
				ErrCorrupt, BundleDeviceCAsFile, i+1, SerialHex(c), RootCertFile, PreviousRootCertFile))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("broker bundle %s: %w", dir, err)
	}
	var previous *x509.Certificate
	if rollover.inProgress(root) {
		previous = rollover.previous
	}
	return &CA{
		dir:      dir,
		now:      time.Now,
		root:     root,
		deviceCA: deviceCAs[0],
		trusted:  deviceCAs[1:],
		server:   tls.Certificate{Certificate: rollover.serverChain(root, server), PrivateKey: serverKey, Leaf: server},
		previous: previous,
	}, nil
}

// readBundleDeviceCAs reads the intermediates of a bundle: at least one.
func readBundleDeviceCAs(dir string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, BundleDeviceCAsFile))
	if err != nil {
		return nil, err
	}
	certs, err := parseBundle(data)
	if err == nil && len(certs) == 0 {
		err = errors.New("no certificate")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, BundleDeviceCAsFile, err)
	}
	return certs, nil
}

// CAKeysIn returns the names of the CA private key files present in dir:
// on a broker host there should be none.
func CAKeysIn(dir string) []string {
	var found []string
	for _, name := range caKeyFiles {
		if ok, err := exists(dir, name); ok || err != nil {
			found = append(found, name)
		}
	}
	return found
}
