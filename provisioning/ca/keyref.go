package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyStore holds CA keys that never leave it, such as keys in a PKCS#11
// token (package hsm), and finds them by label. A CA directory names such
// a key with a reference (EncodeKeyRefPEM) where it would hold a PEM
// private key: root.key, device-ca.key or operator-ca.key.
type KeyStore interface {
	// Signer returns the key labelled label in the token labelled token.
	Signer(token, label string) (crypto.Signer, error)
}

// pemKeyRef is the PEM type of a key reference. Its headers name the token
// and the key; its body is the key's public half (PKIX DER), so that a
// reference is matched against its certificate without the token.
const pemKeyRef = "PKCS11 KEY REFERENCE"

// ErrNoKeyStore means a CA key file is a reference to a key in a PKCS#11
// token, and no token was configured to find it in.
var ErrNoKeyStore = errors.New("CA key is in a PKCS#11 token, and no token is configured")

// KeyRef names a key kept in a token.
type KeyRef struct {
	Token  string
	Label  string
	Public crypto.PublicKey
}

// EncodeKeyRefPEM returns ref as the PEM a CA directory holds in place of
// the private key.
func EncodeKeyRefPEM(ref KeyRef) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(ref.Public)
	if err != nil {
		return nil, fmt.Errorf("marshal public key of %q: %w", ref.Label, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemKeyRef, Headers: map[string]string{"Token": ref.Token, "Label": ref.Label}, Bytes: der}), nil
}

// decodeKeyRef parses a reference block.
func decodeKeyRef(block *pem.Block) (KeyRef, error) {
	ref := KeyRef{Token: block.Headers["Token"], Label: block.Headers["Label"]}
	if ref.Token == "" || ref.Label == "" {
		return KeyRef{}, errors.New("key reference without Token or Label header")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return KeyRef{}, fmt.Errorf("key reference: %w", err)
	}
	ref.Public = pub
	return ref, nil
}

// openKeyRef finds the key that the reference in file name names, and
// checks that it is the key the reference recorded.
func openKeyRef(name string, ref KeyRef, keys KeyStore) (crypto.Signer, error) {
	if _, ok := keys.(publicOnly); ok {
		return unopenedKey{ref}, nil
	}
	if keys == nil {
		return nil, fmt.Errorf("%w: %s refers to key %q in token %q: configure the token (hsm_module, hsm_token, hsm_pin_file; or the --hsm-* flags)",
			ErrNoKeyStore, name, ref.Label, ref.Token)
	}
	s, err := keys.Signer(ref.Token, ref.Label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !keyMatches(s, ref.Public) {
		return nil, fmt.Errorf("%w: %s: the key labelled %q in token %q is not the one the reference recorded", ErrCorrupt, name, ref.Label, ref.Token)
	}
	return s, nil
}
