package tpmkey

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// Signer returns the key as a crypto.Signer producing ASN.1 DER ECDSA
// signatures, as crypto/ecdsa does, so it fits tls.Certificate.PrivateKey
// and x509.CreateCertificateRequest.
func (k *Key) Signer() crypto.Signer { return signer{k} }

// signer is a separate type because Key.Public already returns the TPM
// encoding, while crypto.Signer wants the crypto.PublicKey.
type signer struct{ k *Key }

// Public implements crypto.Signer.
func (s signer) Public() crypto.PublicKey { return s.k.pub }

// p256DigestLen is the P-256 order's byte length. ECDSA uses only that many
// leftmost digest bytes, so truncating a SHA-384/512 digest here yields the
// same signature crypto/ecdsa would make, while the TPM, asked for an
// ECDSA-SHA256 signature, insists on a 32-byte digest.
const p256DigestLen = 32

// Sign implements crypto.Signer: TPM2_Sign over the digest with the key's
// ECDSA-SHA256 scheme and a null validation ticket, which an unrestricted
// key accepts. rand is unused: the TPM draws its own nonce.
func (s signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch h := opts.HashFunc(); h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("%w: %d bytes for %v", ErrHash, len(digest), h)
		}
	default:
		return nil, fmt.Errorf("%w: %v", ErrHash, h)
	}
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: k.h.Handle, Name: k.h.Name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest[:p256DigestLen]},
		InScheme:  tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		Validation: tpm2.TPMTTKHashCheck{
			Tag:       tpm2.TPMSTHashCheck,
			Hierarchy: tpm2.TPMRHNull,
		},
	}.Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: sign: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrKeyType, err)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig.SignatureR.Buffer),
		new(big.Int).SetBytes(sig.SignatureS.Buffer),
	})
}
