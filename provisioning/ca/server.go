package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"
)

// ensureServer makes sure the server key and certificate exist and the
// certificate is fit for use, reissuing it when needed. The key is reused
// when present (a key is never overwritten); only the certificate is
// replaced, which is safe because clients trust the root, not the leaf.
// It returns the files it created.
func ensureServer(dir string, names serverNames, now time.Time, log *slog.Logger, keys KeyStore) ([]string, error) {
	root, err := readCert(dir, RootCertFile)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	rootKey, err := readKey(dir, RootKeyFile, keys)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if !keyMatches(rootKey, root.PublicKey) {
		return nil, fmt.Errorf("CA directory %s: %w: %s does not match %s", dir, ErrCorrupt, RootKeyFile, RootCertFile)
	}

	var created []string
	var key crypto.Signer
	switch k, err := readKey(dir, ServerKeyFile, nil); {
	case err == nil:
		key = k
	case errors.Is(err, fs.ErrNotExist):
		nk, err := newKey()
		if err != nil {
			return nil, err
		}
		keyPEM, err := EncodeKeyPEM(nk)
		if err != nil {
			return nil, err
		}
		if err := createFile(dir, ServerKeyFile, keyPEM, keyMode); err != nil {
			return nil, fmt.Errorf("write %s: %w", ServerKeyFile, err)
		}
		created = append(created, ServerKeyFile)
		key = nk
	default:
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}

	cert, err := readCert(dir, ServerCertFile)
	reason := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "missing"
	case err != nil:
		reason = err.Error()
	default:
		reason = serverCertProblem(cert, root, key, names, now)
	}
	if reason == "" {
		return created, nil
	}

	fresh, err := sign(serverTemplate(names, now), root, key.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	if cert == nil && reason == "missing" {
		if err := createFile(dir, ServerCertFile, EncodeCertPEM(fresh), certMode); err != nil {
			return nil, fmt.Errorf("write %s: %w", ServerCertFile, err)
		}
		return append(created, ServerCertFile), nil
	}
	if err := replaceFile(dir, ServerCertFile, EncodeCertPEM(fresh), certMode); err != nil {
		return nil, fmt.Errorf("write %s: %w", ServerCertFile, err)
	}
	log.Info("reissued server certificate", "file", ServerCertFile, "reason", reason,
		"not_after", fresh.NotAfter.UTC().Format(time.RFC3339), "serial", SerialHex(fresh))
	return created, nil
}

// serverCertProblem returns why cert must be reissued, or "" if it is fine.
func serverCertProblem(cert, root *x509.Certificate, key crypto.Signer, names serverNames, now time.Time) string {
	switch {
	case cert.CheckSignatureFrom(root) != nil:
		return "not signed by " + RootCertFile
	case !keyMatches(key, cert.PublicKey):
		return "does not match " + ServerKeyFile
	case cert.NotAfter.Sub(now) < ServerRenewBefore:
		return "expires at " + cert.NotAfter.UTC().Format(time.RFC3339)
	}
	if missing := names.missingFrom(cert); len(missing) > 0 {
		return fmt.Sprintf("lacks names %v", missing)
	}
	return ""
}
