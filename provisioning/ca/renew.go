package ca

import (
	"crypto/x509"
	"fmt"
	"time"
)

// RenewServer reissues the server certificate of the CA directory dir now,
// for the same key, whatever its remaining lifetime, and returns it. The
// new certificate keeps every name of the old one and adds the defaults
// and extraNames. Clients trust the root, not the leaf, so a running server
// serves it after its next reload without anyone noticing. keys finds the
// root key when root.key refers to a key in a token (nil: none).
func RenewServer(dir string, extraNames []string, now time.Time, keys KeyStore) (*x509.Certificate, error) {
	names, err := resolveServerNames(extraNames)
	if err != nil {
		return nil, err
	}
	root, err := readCert(dir, RootCertFile)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	rootKey, err := readRootKey(dir, root, keys)
	if err != nil {
		return nil, err
	}
	key, err := readKey(dir, ServerKeyFile, nil)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	// An unreadable old certificate contributes no names; it is replaced
	// either way.
	if old, err := readCert(dir, ServerCertFile); err == nil {
		for _, d := range old.DNSNames {
			_ = names.add(d)
		}
		for _, ip := range old.IPAddresses {
			_ = names.add(ip.String())
		}
	}
	fresh, err := sign(serverTemplate(names, now), root, key.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	if err := replaceFile(dir, ServerCertFile, EncodeCertPEM(fresh), certMode); err != nil {
		return nil, fmt.Errorf("write %s: %w", ServerCertFile, err)
	}
	return fresh, nil
}
