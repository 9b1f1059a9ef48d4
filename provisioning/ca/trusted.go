package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// TrustedDeviceCAsFile holds older device intermediates, as a PEM bundle of
// zero or more certificates signed by the root. Devices whose certificates
// chain to one of them are still admitted, but nothing is issued from them:
// their keys, where a rotation kept them (KeptKeyFile), sign only their
// CRLs and OCSP signers. The file is optional; a missing or empty file
// means none.
const TrustedDeviceCAsFile = "trusted-device-cas.crt"

// readTrusted loads the trusted bundle of dir. A missing file is an empty
// bundle. Anything that is not a sequence of PEM certificates (a truncated
// or hand-edited file) is ErrCorrupt, so that a half-written bundle is
// never taken for a shorter one.
func readTrusted(dir string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, TrustedDeviceCAsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	certs, err := parseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, TrustedDeviceCAsFile, err)
	}
	return certs, nil
}

// parseBundle decodes concatenated PEM certificates, refusing any other
// block type and any bytes outside the blocks.
func parseBundle(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		if len(bytes.TrimSpace(rest)) == 0 {
			return certs, nil
		}
		block, after := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("certificate %d: no complete PEM block", n)
		}
		if block.Type != pemCertificate {
			return nil, fmt.Errorf("certificate %d: PEM block type %q, want %q", n, block.Type, pemCertificate)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n, err)
		}
		certs = append(certs, c)
		rest = after
	}
}

// encodeBundle is the inverse of parseBundle.
func encodeBundle(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(EncodeCertPEM(c))
	}
	return b.Bytes()
}

// checkTrusted verifies that every trusted intermediate is a CA signed by
// a root in force (roots) and shares no key with the operator CA (which would let a device
// act as an operator). It returns the list without duplicates and without
// the issuing intermediate, which a rotation interrupted after its first
// step leaves in both places.
func checkTrusted(trusted []*x509.Certificate, roots []*x509.Certificate, deviceCA, operatorCA *x509.Certificate) ([]*x509.Certificate, error) {
	var errs []error
	out := make([]*x509.Certificate, 0, len(trusted))
	for i, c := range trusted {
		if c.Equal(deviceCA) || slices.ContainsFunc(out, c.Equal) {
			continue
		}
		name := fmt.Sprintf("%s certificate %d (serial %s)", TrustedDeviceCAsFile, i+1, SerialHex(c))
		switch {
		case !c.BasicConstraintsValid || !c.IsCA:
			errs = append(errs, fmt.Errorf("%w: %s is not a CA certificate", ErrCorrupt, name))
		case !signedByAny(c, roots):
			errs = append(errs, fmt.Errorf("%w: %s is not signed by %s", ErrCorrupt, name, RootCertFile))
		case samePublicKey(operatorCA, c):
			errs = append(errs, fmt.Errorf("%w: %s shares its key with %s", ErrCorrupt, name, OperatorCACertFile))
		default:
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}
