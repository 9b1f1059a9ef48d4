package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// newKeyAndCSR generates an ECDSA P-256 key (TLS 1.3 forbids the PKCS#1
// v1.5 signatures of RSA client keys, and P-256 is what devices use),
// writes it to keyFile as PKCS#8 PEM with mode 0600, and returns a CSR
// signed by it. It refuses to overwrite an existing file: losing a key that
// holds a certificate cannot be undone.
//
// The file is created before the server is asked, so an existing file is
// refused before anything changes there; remove undoes the file when the
// request then fails.
func newKeyAndCSR(keyFile, deviceID string) (csrPEM []byte, remove func(), err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	// The CN is for people reading the CSR; the CA takes the identity from
	// the registry.
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: deviceID},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("build CSR: %w", err)
	}

	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, nil, fmt.Errorf("%w: key file %s already exists; refusing to overwrite it (choose another --new-key path, or use --csr with that key)", errBadInput, keyFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: create key file: %w", errBadInput, err)
	}
	remove = func() { _ = os.Remove(keyFile) }
	if _, err := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		f.Close()
		remove()
		return nil, nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		remove()
		return nil, nil, fmt.Errorf("write key file: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}), remove, nil
}
