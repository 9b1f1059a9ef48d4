package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// VerifyCertify checks the AK's certification of the device key and returns
// the device key's public key (*ecdsa.PublicKey, P-256).
//
// keyPublic is the device key's TPM2B_PUBLIC, attest the TPMS_ATTEST the AK
// signed, sig the AK's TPMT_SIGNATURE over it, nonce the one the server
// issued for this enrollment. The checks, each with its own error: attest
// starts with TPM_GENERATED_VALUE (ErrAttestMagic) and is a certify
// statement (ErrAttestType); the AK signed it (ErrAKSignature); it carries
// the nonce (ErrNonceMismatch); the certified name is keyPublic's name
// (ErrNameMismatch); the key cannot leave the TPM and is an unrestricted
// ECC P-256 signing key (ErrKeyAttributes). The signature is checked before
// the nonce, name and key, so those refusals are about a genuine TPM
// statement.
func VerifyCertify(ak AK, keyPublic, attest, sig, nonce []byte) (crypto.PublicKey, error) {
	s, err := unmarshalCanonical[tpm2.TPMTSignature](sig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	if len(attest) < 4 || tpm2.TPMGenerated(binary.BigEndian.Uint32(attest)) != tpm2.TPMGeneratedValue {
		return nil, ErrAttestMagic
	}
	if len(attest) < 6 || tpm2.TPMST(binary.BigEndian.Uint16(attest[4:])) != tpm2.TPMSTAttestCertify {
		return nil, ErrAttestType
	}
	a, err := unmarshalCanonical[tpm2.TPMSAttest](attest)
	if err != nil {
		return nil, fmt.Errorf("%w: attestation: %w", ErrMalformed, err)
	}
	info, err := a.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAttestType, err)
	}
	if err := verifySignature(ak.Public, s, attest); err != nil {
		return nil, err
	}
	if len(nonce) == 0 || subtle.ConstantTimeCompare(a.ExtraData.Buffer, nonce) != 1 {
		return nil, ErrNonceMismatch
	}
	key, err := parsePublic2B(keyPublic)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	if key.name == nil {
		// A weak name algorithm: the name could collide, so it proves nothing.
		return nil, fmt.Errorf("%w: name algorithm %#04x", ErrKeyAttributes, uint16(key.area.NameAlg))
	}
	if !bytes.Equal(info.Name.Buffer, key.name) {
		return nil, ErrNameMismatch
	}
	return deviceKey(key.area)
}

// deviceKey checks the device key's attributes and returns its key.
func deviceKey(area *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	a := area.ObjectAttributes
	switch {
	case !a.FixedTPM, !a.FixedParent, !a.SensitiveDataOrigin:
		return nil, fmt.Errorf("%w: key could leave the TPM", ErrKeyAttributes)
	case a.Restricted:
		return nil, fmt.Errorf("%w: restricted key cannot sign TLS handshakes", ErrKeyAttributes)
	case !a.SignEncrypt, a.Decrypt:
		return nil, fmt.Errorf("%w: must be a signing-only key", ErrKeyAttributes)
	case area.Type != tpm2.TPMAlgECC:
		return nil, fmt.Errorf("%w: not an ECC key", ErrKeyAttributes)
	}
	pub, err := cryptoPublic(area)
	if errors.Is(err, errKeyType) {
		return nil, fmt.Errorf("%w: %w", ErrKeyAttributes, err)
	}
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: not ECC P-256", ErrKeyAttributes)
	}
	return k, nil
}
