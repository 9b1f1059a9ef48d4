package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// Kept keys of trusted intermediates. A rotation does not destroy the old
// intermediate's key: it moves it to KeptKeyFile(old), so that the old
// intermediate still signs its own CRL and its delegated OCSP signer for
// as long as its certificates are trusted. Nothing issues device
// certificates from it. RetireIntermediate removes the file. For a key in
// a token the file holds the reference, and the key stays in the token
// until the retirement names it for deletion.
const (
	keptKeyPrefix = "device-ca-"
	keptKeySuffix = ".key"
)

// KeptKeyFile returns the name of the file in a CA directory that keeps
// the key of the trusted intermediate c: device-ca-<serial hex>.key.
func KeptKeyFile(c *x509.Certificate) string {
	return keptKeyPrefix + SerialHex(c) + keptKeySuffix
}

// readKeptKeys returns, for each trusted intermediate, its kept key, or
// nil when the directory keeps none (a rotation by an older build
// destroyed it). A kept key that does not match its certificate is
// ErrCorrupt.
func readKeptKeys(dir string, trusted []*x509.Certificate, keys KeyStore) ([]crypto.Signer, error) {
	out := make([]crypto.Signer, len(trusted))
	var errs []error
	for i, c := range trusted {
		name := KeptKeyFile(c)
		k, err := readKey(dir, name, keys)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			errs = append(errs, err)
		case !keyMatches(k, c.PublicKey):
			errs = append(errs, fmt.Errorf("%w: %s does not match the trusted intermediate with serial %s", ErrCorrupt, name, SerialHex(c)))
		default:
			out[i] = k
		}
	}
	return out, errors.Join(errs...)
}

// removeUntrustedKeptKeys deletes every kept key file whose intermediate
// is not in trusted (a retirement, or one stopped between rewriting the
// bundle and removing the key), and returns the labels of the token keys
// that such files referred to: they are to be deleted from the token.
func removeUntrustedKeptKeys(dir string, trusted []*x509.Certificate) (tokenLabels []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	for _, e := range entries {
		serial, ok := keptKeySerial(e.Name())
		if !ok || trustsSerial(trusted, serial) {
			continue
		}
		if label := tokenKeyLabel(dir, e.Name()); label != "" {
			tokenLabels = append(tokenLabels, label)
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return tokenLabels, fmt.Errorf("remove %s: %w", e.Name(), err)
		}
	}
	return tokenLabels, syncDir(dir)
}

// keptKeySerial reads the serial out of a kept key file's name.
func keptKeySerial(name string) (*big.Int, bool) {
	hex, ok := strings.CutPrefix(name, keptKeyPrefix)
	if !ok {
		return nil, false
	}
	hex, ok = strings.CutSuffix(hex, keptKeySuffix)
	if !ok {
		return nil, false
	}
	n, ok := new(big.Int).SetString(hex, 16)
	return n, ok && n.Sign() > 0
}

func trustsSerial(trusted []*x509.Certificate, serial *big.Int) bool {
	for _, c := range trusted {
		if c.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
