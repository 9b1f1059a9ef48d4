package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// Files of a root rollover and of the trust bundle.
const (
	// PreviousRootCertFile and PreviousRootKeyFile hold, during a root
	// rollover, the root being replaced: still trusted, no longer issuing.
	PreviousRootCertFile = "root-previous.crt"
	PreviousRootKeyFile  = "root-previous.key"

	// RootCrossCertFile holds, during a rollover, the current root's key
	// and name signed by the previous root: clients holding only the
	// previous root verify the current one through it.
	RootCrossCertFile = "root-cross.crt"
	// PreviousRootCrossCertFile holds the previous root's key and name
	// signed by the current root, for clients holding only the current
	// root.
	PreviousRootCrossCertFile = "root-previous-cross.crt"

	// RootNextCertFile and RootNextKeyFile are the staged new root of a
	// rollover: written first, renamed into place last.
	RootNextCertFile = "root.next.crt"
	RootNextKeyFile  = "root.next.key"

	// TrustBundleFile is the signed trust bundle (wire.TrustBundle) that
	// the API serves to devices: the roots in force, signed by the
	// current root.
	TrustBundleFile = "trust-bundle.json"
)

// rolloverFiles is the optional rollover material of a CA directory.
type rolloverFiles struct {
	previous *x509.Certificate // nil: no rollover
	cross    *x509.Certificate // the current root signed by previous; nil if absent
	bundle   []byte            // TrustBundleFile; nil if absent
}

// readRollover reads the optional rollover files and the trust bundle.
func readRollover(dir string) (rolloverFiles, error) {
	r, err := readRolloverRoots(dir)
	if err != nil {
		return r, err
	}
	r.bundle, err = os.ReadFile(filepath.Join(dir, TrustBundleFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	return r, err
}

// readRolloverRoots reads the optional previous root and
// cross-certificate, as a CA directory and a broker bundle hold them.
func readRolloverRoots(dir string) (rolloverFiles, error) {
	var r rolloverFiles
	var err error
	if r.previous, err = readOptionalCert(dir, PreviousRootCertFile); err != nil {
		return r, err
	}
	r.cross, err = readOptionalCert(dir, RootCrossCertFile)
	return r, err
}

// readOptionalCert is readCert with a missing file read as nil.
func readOptionalCert(dir, name string) (*x509.Certificate, error) {
	c, err := readCert(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return c, err
}

// inProgress reports whether a rollover is under way: a previous root is
// kept that is not the current one.
func (r rolloverFiles) inProgress(root *x509.Certificate) bool {
	return r.previous != nil && !r.previous.Equal(root)
}

// roots returns the roots in force: root, then the previous root during
// a rollover.
func (r rolloverFiles) roots(root *x509.Certificate) []*x509.Certificate {
	if r.inProgress(root) {
		return []*x509.Certificate{root, r.previous}
	}
	return []*x509.Certificate{root}
}

// check verifies the rollover material against root: the previous root
// is a self-signed CA, the cross-certificate carries root's key and is
// signed by the previous root, and the trust bundle is signed by a root in
// force.
func (r rolloverFiles) check(root *x509.Certificate, now time.Time) error {
	var errs []error
	if p := r.previous; p != nil && (!p.BasicConstraintsValid || !p.IsCA || p.CheckSignatureFrom(p) != nil) {
		errs = append(errs, fmt.Errorf("%w: %s is not a self-signed CA certificate", ErrCorrupt, PreviousRootCertFile))
	}
	if c := r.cross; c != nil && r.inProgress(root) &&
		(!samePublicKey(c, root) || c.CheckSignatureFrom(r.previous) != nil) {
		errs = append(errs, fmt.Errorf("%w: %s is not %s signed by %s", ErrCorrupt, RootCrossCertFile, RootCertFile, PreviousRootCertFile))
	}
	if r.bundle != nil {
		pool := x509.NewCertPool()
		for _, c := range r.roots(root) {
			pool.AddCert(c)
		}
		if _, err := trustbundle.Verify(r.bundle, pool, nil, now); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrCorrupt, TrustBundleFile, err))
		}
	}
	return errors.Join(errs...)
}

// serverChain is what the server sends: the leaf, and during a rollover
// the cross-certificate that chains the current root to the previous one
// when the current root signed the leaf.
func (r rolloverFiles) serverChain(root, server *x509.Certificate) [][]byte {
	chain := [][]byte{server.Raw}
	if r.inProgress(root) && r.cross != nil && samePublicKey(r.cross, root) && server.CheckSignatureFrom(root) == nil {
		chain = append(chain, r.cross.Raw)
	}
	return chain
}
