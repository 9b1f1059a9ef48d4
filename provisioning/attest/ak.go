package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// AK is a parsed attestation key public area.
type AK struct {
	// Name is the AK's TPM Name (name algorithm || digest of the public
	// area), the value the credential is bound to.
	Name []byte
	// Public is the AK's key, *ecdsa.PublicKey or *rsa.PublicKey.
	Public crypto.PublicKey
	// Raw is the TPM2B_PUBLIC the AK was parsed from, what the registry
	// stores to check rotations against.
	Raw []byte
}

// ParseAK parses a TPM2B_PUBLIC and checks it is fit to be an AK:
// restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin, not decrypt,
// a SHA-256/384/512 name algorithm, and an ECC P-256/P-384 or RSA
// 2048-4096 key. Restricted is what makes the AK's word worth anything: a
// restricted key refuses to sign data that starts like a TPM attestation
// unless the TPM itself produced it.
func ParseAK(akPublic []byte) (AK, error) {
	p, err := parsePublic2B(akPublic)
	if err != nil {
		return AK{}, err
	}
	a := p.area.ObjectAttributes
	switch {
	case !a.Restricted, !a.SignEncrypt, a.Decrypt:
		return AK{}, fmt.Errorf("%w: must be a restricted signing-only key", ErrAKAttributes)
	case !a.FixedTPM, !a.FixedParent, !a.SensitiveDataOrigin:
		return AK{}, fmt.Errorf("%w: must be generated in and bound to the TPM", ErrAKAttributes)
	case p.name == nil:
		return AK{}, fmt.Errorf("%w: name algorithm %#04x", ErrAKAttributes, uint16(p.area.NameAlg))
	}
	pub, err := akKey(p.area)
	if err != nil {
		return AK{}, err
	}
	return AK{Name: p.name, Public: pub, Raw: append([]byte(nil), akPublic...)}, nil
}

// akKey converts the AK's key, refusing sizes and curves we do not accept.
func akKey(area *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	pub, err := cryptoPublic(area)
	if errors.Is(err, errKeyType) {
		return nil, fmt.Errorf("%w: %w", ErrAKAttributes, err)
	}
	if err != nil {
		return nil, err
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().BitSize; n != 256 && n != 384 {
			return nil, fmt.Errorf("%w: curve P-%d", ErrAKAttributes, n)
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 {
			return nil, fmt.Errorf("%w: RSA-%d", ErrAKAttributes, n)
		}
	}
	return pub, nil
}

// errKeyType marks a key type or curve cryptoPublic does not handle; callers
// turn it into their own attribute error.
var errKeyType = errors.New("unsupported key type")

// cryptoPublic converts an ECC or RSA public area, validating the point or
// modulus: go-tpm's converters copy numbers without checking them.
func cryptoPublic(area *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	switch area.Type {
	case tpm2.TPMAlgECC:
		parms, err := area.Parameters.ECCDetail()
		if err != nil {
			return nil, fmt.Errorf("%w: ECC parameters: %w", ErrMalformed, err)
		}
		point, err := area.Unique.ECC()
		if err != nil {
			return nil, fmt.Errorf("%w: ECC point: %w", ErrMalformed, err)
		}
		if parms.CurveID != tpm2.TPMECCNistP256 && parms.CurveID != tpm2.TPMECCNistP384 {
			return nil, fmt.Errorf("%w: curve %#04x", errKeyType, uint16(parms.CurveID))
		}
		k, err := tpm2.ECDSAPub(parms, point)
		if err != nil {
			return nil, fmt.Errorf("%w: ECC key: %w", ErrMalformed, err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(point.X.Buffer) > size || len(point.Y.Buffer) > size {
			return nil, fmt.Errorf("%w: ECC coordinate length", ErrMalformed)
		}
		if _, err := k.ECDH(); err != nil {
			return nil, fmt.Errorf("%w: ECC point not on curve", ErrMalformed)
		}
		return k, nil
	case tpm2.TPMAlgRSA:
		parms, err := area.Parameters.RSADetail()
		if err != nil {
			return nil, fmt.Errorf("%w: RSA parameters: %w", ErrMalformed, err)
		}
		n, err := area.Unique.RSA()
		if err != nil {
			return nil, fmt.Errorf("%w: RSA modulus: %w", ErrMalformed, err)
		}
		k, err := tpm2.RSAPub(parms, n)
		if err != nil {
			return nil, fmt.Errorf("%w: RSA key: %w", ErrMalformed, err)
		}
		if k.E < 3 || k.E%2 == 0 || k.N.BitLen() != int(parms.KeyBits) {
			return nil, fmt.Errorf("%w: RSA exponent or size", ErrMalformed)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %#04x", errKeyType, uint16(area.Type))
	}
}
