package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// ensureTrustBundle writes TrustBundleFile when it is missing or does not
// list exactly roots (the current root first), signed by rootKey, with
// the next sequence number; signer are the certificates of rootKey that
// devices may chain to. It reports whether it wrote one.
func ensureTrustBundle(dir string, roots []*x509.Certificate, rootKey crypto.Signer, signer []*x509.Certificate, now time.Time) (bool, error) {
	files, err := readRollover(dir)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	var seq uint64
	if files.bundle != nil {
		held, _, err := trustbundle.Parse(files.bundle)
		if err != nil {
			return false, fmt.Errorf("CA directory %s: %w: %s: %w", dir, ErrCorrupt, TrustBundleFile, err)
		}
		if slices.EqualFunc(held.RootCerts, roots, (*x509.Certificate).Equal) {
			return false, nil
		}
		seq = held.Sequence
	}
	raw, err := trustbundle.Sign(seq+1, now, roots, rootKey, signer)
	if err != nil {
		return false, err
	}
	if err := replaceFile(dir, TrustBundleFile, raw, certMode); err != nil {
		return false, fmt.Errorf("write %s: %w", TrustBundleFile, err)
	}
	return true, nil
}

// ensureSoleRootBundle writes the trust bundle of a directory outside a
// rollover (the root alone) when it is missing: directories made before
// trust bundles existed get one at the next start.
func ensureSoleRootBundle(dir string, now time.Time, keys KeyStore) (bool, error) {
	files, err := readRollover(dir)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	root, err := readCert(dir, RootCertFile)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if files.bundle != nil || files.inProgress(root) {
		return false, nil
	}
	key, err := readKey(dir, RootKeyFile, keys)
	if err != nil {
		return false, fmt.Errorf("CA directory %s: the root key is needed to sign the trust bundle: %w", dir, err)
	}
	return ensureTrustBundle(dir, []*x509.Certificate{root}, key, []*x509.Certificate{root}, now)
}
