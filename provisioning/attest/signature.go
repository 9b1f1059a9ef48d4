package attest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// verifySignature checks a TPMT_SIGNATURE by pub over msg. The hash comes
// from the signature, limited to SHA-256/384/512; the scheme must fit the
// key type.
func verifySignature(pub any, sig *tpm2.TPMTSignature, msg []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if sig.SigAlg != tpm2.TPMAlgECDSA {
			return fmt.Errorf("%w: scheme %#04x for an ECC key", ErrAKSignature, uint16(sig.SigAlg))
		}
		s, err := sig.Signature.ECDSA()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAKSignature, err)
		}
		h, ok := strongHash(s.Hash)
		if !ok {
			return fmt.Errorf("%w: hash %#04x", ErrAKSignature, uint16(s.Hash))
		}
		d := h.New()
		d.Write(msg)
		r := new(big.Int).SetBytes(s.SignatureR.Buffer)
		ss := new(big.Int).SetBytes(s.SignatureS.Buffer)
		if !ecdsa.Verify(k, d.Sum(nil), r, ss) {
			return ErrAKSignature
		}
		return nil
	case *rsa.PublicKey:
		var s *tpm2.TPMSSignatureRSA
		var err error
		switch sig.SigAlg {
		case tpm2.TPMAlgRSASSA:
			s, err = sig.Signature.RSASSA()
		case tpm2.TPMAlgRSAPSS:
			s, err = sig.Signature.RSAPSS()
		default:
			return fmt.Errorf("%w: scheme %#04x for an RSA key", ErrAKSignature, uint16(sig.SigAlg))
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAKSignature, err)
		}
		h, ok := strongHash(s.Hash)
		if !ok {
			return fmt.Errorf("%w: hash %#04x", ErrAKSignature, uint16(s.Hash))
		}
		d := h.New()
		d.Write(msg)
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			err = rsa.VerifyPKCS1v15(k, h, d.Sum(nil), s.Sig.Buffer)
		} else {
			err = rsa.VerifyPSS(k, h, d.Sum(nil), s.Sig.Buffer, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAKSignature, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: AK key type %T", ErrAKSignature, pub)
	}
}
