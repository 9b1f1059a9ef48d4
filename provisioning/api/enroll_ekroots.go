package api

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ErrEKRoots means the manufacturer CA bundle could not be used.
var ErrEKRoots = errors.New("cannot load EK manufacturer CAs")

// LoadEKRoots reads a PEM bundle of TPM manufacturer CA certificates for
// Config.EKRoots and Config.EKIntermediates: self-signed certificates
// become roots, the others intermediates (manufacturers such as
// swtpm-localca issue EK certificates from an intermediate that the TPM
// does not store). The bundle must hold at least one root and nothing but
// CA certificates: an EK certificate pasted in by mistake would otherwise
// be silently ignored. intermediates is nil when there are none.
func LoadEKRoots(path string) (roots, intermediates *x509.CertPool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrEKRoots, err)
	}
	roots = x509.NewCertPool()
	var nRoots, nInter int
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: certificate %d: %w", ErrEKRoots, path, nRoots+nInter+1, err)
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, nil, fmt.Errorf("%w: %s: %q is not a CA certificate", ErrEKRoots, path, c.Subject)
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
			nRoots++
			continue
		}
		if intermediates == nil {
			intermediates = x509.NewCertPool()
		}
		intermediates.AddCert(c)
		nInter++
	}
	if nRoots == 0 {
		return nil, nil, fmt.Errorf("%w: %s holds no self-signed PEM CA certificate", ErrEKRoots, path)
	}
	return roots, intermediates, nil
}
