package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// PEM block types written and accepted for CA files.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
)

// EncodeCertPEM returns c (its Raw DER) as a PEM "CERTIFICATE" block.
func EncodeCertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: c.Raw})
}

// EncodeKeyPEM returns key as a PKCS#8 PEM "PRIVATE KEY" block, the form
// every file key in this package uses.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// decodeSinglePEM returns the DER of the only PEM block in data, which must
// have the given type. More than one block is refused: a CA file holding two
// certificates would make it unclear which one is meant.
func decodeSinglePEM(data []byte, typ string) ([]byte, error) {
	block, err := decodeOnePEM(data, typ)
	if err != nil {
		return nil, err
	}
	return block.Bytes, nil
}

// decodeOnePEM returns the only PEM block in data, which must have one of
// the types given.
func decodeOnePEM(data []byte, types ...string) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if !slices.Contains(types, block.Type) {
		return nil, fmt.Errorf("PEM block type %q, want %q", block.Type, strings.Join(types, `" or "`))
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("data after the PEM block")
	}
	return block, nil
}

// readCert loads dir/name as a single PEM certificate.
func readCert(dir, name string) (*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	der, err := decodeSinglePEM(data, pemCertificate)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return c, nil
}

// readKey loads dir/name as a single PKCS#8 PEM private key, or, when it
// holds a key reference, as the key in a token that keys finds.
func readKey(dir, name string, keys KeyStore) (crypto.Signer, error) {
	block, ref, err := readKeyFile(dir, name)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		return openKeyRef(name, *ref, keys)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: key of type %T cannot sign", ErrCorrupt, name, k)
	}
	return signer, nil
}

// readPublicKey returns the public half of the key in dir/name, a file key
// or a reference, without opening any token.
func readPublicKey(dir, name string) (crypto.PublicKey, error) {
	_, ref, err := readKeyFile(dir, name)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		return ref.Public, nil
	}
	k, err := readKey(dir, name, nil)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// readKeyFile reads the single PEM block of dir/name, a private key or a
// key reference; ref is the decoded reference when it is one.
func readKeyFile(dir, name string) (block *pem.Block, ref *KeyRef, err error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	block, err = decodeOnePEM(data, pemPrivateKey, pemKeyRef)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if block.Type != pemKeyRef {
		return block, nil, nil
	}
	r, err := decodeKeyRef(block)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return block, &r, nil
}

// readPair loads a certificate and its key and checks that they belong
// together (ErrCorrupt otherwise).
func readPair(dir, certName, keyName string, keys KeyStore) (*x509.Certificate, crypto.Signer, error) {
	c, err := readCert(dir, certName)
	if err != nil {
		return nil, nil, err
	}
	k, err := readKey(dir, keyName, keys)
	if err != nil {
		return nil, nil, err
	}
	if !keyMatches(k, c.PublicKey) {
		return nil, nil, fmt.Errorf("%w: %s does not match %s", ErrCorrupt, keyName, certName)
	}
	return c, k, nil
}

// readRootKey reads the root key of dir and checks it matches root.
func readRootKey(dir string, root *x509.Certificate, keys KeyStore) (crypto.Signer, error) {
	key, err := readKey(dir, RootKeyFile, keys)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: the root key is needed to sign the server certificate: %w", dir, err)
	}
	if !keyMatches(key, root.PublicKey) {
		return nil, fmt.Errorf("CA directory %s: %w: %s does not match %s", dir, ErrCorrupt, RootKeyFile, RootCertFile)
	}
	return key, nil
}
