package ca

import (
	"crypto"
	"errors"
	"fmt"
	"math/big"
	"regexp"
)

// ErrNoKeyGenerator means a CA key that must be replaced is in a token,
// and the KeyStore given can find keys there but not create them.
var ErrNoKeyGenerator = errors.New("CA key is in a PKCS#11 token, and the key store given cannot create keys there")

// freshKey is the key of a new CA certificate (a rotated intermediate, a
// new root), made where the key it replaces is: inside the same token when
// that one is a reference, else in memory for a PEM file.
type freshKey struct {
	signer crypto.Signer
	file   []byte       // what the key file holds: PEM private key or reference
	token  KeyGenerator // nil for a file key
	label  string       // the key's label in token
}

// serialSuffix matches what labelFor appends, so that a rotated key's
// label does not grow with every rotation.
var serialSuffix = regexp.MustCompile(`-[0-9a-f]{8,}$`)

// labelFor names the token key of the certificate with this serial after
// the label of the key it replaces: "fleetgate-device-ca" becomes
// "fleetgate-device-ca-<serial hex>", as `fleetgate ca list` shows it.
func labelFor(old string, serial *big.Int) string {
	return serialSuffix.ReplaceAllString(old, "") + "-" + serial.Text(16)
}

// newKeyLike makes the key that replaces the one in dir/keyFile, for a
// certificate with this serial. A reference there means the new key is
// generated in the same token, which keys must then be able to do
// (ErrNoKeyStore, ErrNoKeyGenerator, hsm.ErrOtherToken otherwise).
func newKeyLike(dir, keyFile string, keys KeyStore, serial *big.Int) (freshKey, error) {
	_, ref, err := readKeyFile(dir, keyFile)
	if err != nil {
		return freshKey{}, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if ref == nil {
		k, err := newKey()
		if err != nil {
			return freshKey{}, err
		}
		pemKey, err := EncodeKeyPEM(k)
		return freshKey{signer: k, file: pemKey}, err
	}
	if keys == nil {
		return freshKey{}, fmt.Errorf("%w: %s refers to key %q in token %q, and its successor is made there: configure the token (the --hsm-* flags)",
			ErrNoKeyStore, keyFile, ref.Label, ref.Token)
	}
	gen, ok := keys.(KeyGenerator)
	if !ok {
		return freshKey{}, fmt.Errorf("%w: %s refers to key %q in token %q", ErrNoKeyGenerator, keyFile, ref.Label, ref.Token)
	}
	if gen.Label() != ref.Token {
		return freshKey{}, fmt.Errorf("%s refers to token %q, the token configured (--hsm-token) is %q: the new key goes into the same token as the old",
			keyFile, ref.Token, gen.Label())
	}
	label := labelFor(ref.Label, serial)
	k, err := gen.Generate(label)
	if err != nil {
		return freshKey{}, err
	}
	refPEM, err := EncodeKeyRefPEM(KeyRef{Token: gen.Label(), Label: label, Public: k.Public()})
	if err != nil {
		return freshKey{}, errors.Join(err, removeKeys(gen, []string{label}))
	}
	return freshKey{signer: k, file: refPEM, token: gen, label: label}, nil
}

// discardUnlessIn deletes the key from its token when dir/keyFile does not
// name it: the operation that made it failed before installing it. A file
// key needs nothing: it was only in memory or in a staged file.
func (k freshKey) discardUnlessIn(dir, keyFile string) error {
	if k.token == nil {
		return nil
	}
	if pub, err := readPublicKey(dir, keyFile); err == nil && publicMatches(pub, k.signer.Public()) {
		return nil
	}
	return removeKeys(k.token, []string{k.label})
}

// tokenKeyLabel returns the label of the token key dir/keyFile refers to,
// or "" for a file key or an unreadable file.
func tokenKeyLabel(dir, keyFile string) string {
	if _, ref, err := readKeyFile(dir, keyFile); err == nil && ref != nil {
		return ref.Label
	}
	return ""
}
