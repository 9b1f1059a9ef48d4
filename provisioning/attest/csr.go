package attest

import (
	"crypto"
	"crypto/x509"
	"fmt"
)

// VerifyCSR checks that the CSR is signed by its own key (ErrCSRSignature)
// and that this key is the one the AK certified (ErrCSRKeyMismatch). Only the
// key is taken from the CSR: the certificate's names come from the registry.
func VerifyCSR(csr *x509.CertificateRequest, attested crypto.PublicKey) error {
	if csr == nil {
		return fmt.Errorf("%w: no CSR", ErrMalformed)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("%w: %w", ErrCSRSignature, err)
	}
	want, ok := attested.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !want.Equal(csr.PublicKey) {
		return ErrCSRKeyMismatch
	}
	return nil
}
