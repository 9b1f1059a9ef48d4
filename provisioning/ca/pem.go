package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
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
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block type %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("data after the PEM block")
	}
	return block.Bytes, nil
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

// readKey loads dir/name as a single PKCS#8 PEM private key.
func readKey(dir, name string) (crypto.Signer, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	der, err := decodeSinglePEM(data, pemPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: key of type %T cannot sign", ErrCorrupt, name, k)
	}
	return signer, nil
}

// readPair loads a certificate and its key and checks that they belong
// together (ErrCorrupt otherwise).
func readPair(dir, certName, keyName string) (*x509.Certificate, crypto.Signer, error) {
	c, err := readCert(dir, certName)
	if err != nil {
		return nil, nil, err
	}
	k, err := readKey(dir, keyName)
	if err != nil {
		return nil, nil, err
	}
	if !keyMatches(k, c.PublicKey) {
		return nil, nil, fmt.Errorf("%w: %s does not match %s", ErrCorrupt, keyName, certName)
	}
	return c, k, nil
}

// readRootKey reads the root key of dir and checks it matches root.
func readRootKey(dir string, root *x509.Certificate) (crypto.Signer, error) {
	key, err := readKey(dir, RootKeyFile)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: the root key is needed to sign the server certificate: %w", dir, err)
	}
	if !keyMatches(key, root.PublicKey) {
		return nil, fmt.Errorf("CA directory %s: %w: %s does not match %s", dir, ErrCorrupt, RootKeyFile, RootCertFile)
	}
	return key, nil
}
