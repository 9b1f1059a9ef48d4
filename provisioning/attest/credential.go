package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// SecretSize is the length of the activation secret: 32 bytes, as much as a
// SHA-256 digest, which every EK name algorithm can carry.
const SecretSize = 32

// Challenge is a credential for one enrollment. Secret stays on the server
// (single-use, short-lived, in the registry); CredBlob and EncSecret go to
// the device, which hands them to TPM2_ActivateCredential.
type Challenge struct {
	// Secret is the random value the device must send back.
	Secret []byte
	// CredBlob is the TPMS_ID_OBJECT (integrity HMAC, encrypted secret)
	// bound to the AK's name.
	CredBlob []byte
	// EncSecret is the seed encrypted to the EK (RSA-OAEP or ECDH).
	EncSecret []byte
}

// MakeCredential seals a fresh random secret to the EK and the AK's name
// (TPM2_MakeCredential in software). Only a TPM holding the EK's private key
// and an object with exactly akName loaded can recover it, which ties the AK
// to the certified EK. ekPub must come from the verified EK certificate.
func MakeCredential(ekPub crypto.PublicKey, akName []byte) (Challenge, error) {
	if err := checkName(akName); err != nil {
		return Challenge{}, err
	}
	area, err := ekArea(ekPub)
	if err != nil {
		return Challenge{}, err
	}
	kem, err := tpm2.ImportEncapsulationKey(area)
	if err != nil {
		return Challenge{}, fmt.Errorf("%w: %w", ErrEKKey, err)
	}
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return Challenge{}, fmt.Errorf("attest: random secret: %w", err)
	}
	blob, enc, err := tpm2.CreateCredential(rand.Reader, kem, akName, secret)
	if err != nil {
		return Challenge{}, fmt.Errorf("attest: create credential: %w", err)
	}
	return Challenge{Secret: secret, CredBlob: blob, EncSecret: enc}, nil
}

// VerifyActivation compares the secret the device recovered with the one
// sealed, in constant time.
func VerifyActivation(expected, got []byte) error {
	if len(expected) == 0 || subtle.ConstantTimeCompare(expected, got) != 1 {
		return ErrSecretMismatch
	}
	return nil
}

// ekArea rebuilds the EK's public area from its key. The credential's KDF
// and cipher use the EK template's name algorithm and symmetric parameters,
// which the certificate does not state, so they follow from the key as the
// TCG templates define them.
func ekArea(pub crypto.PublicKey) (*tpm2.TPMTPublic, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return nil, fmt.Errorf("%w: RSA-%d", ErrEKKey, k.N.BitLen())
		}
		a := tpm2.RSAEKTemplate
		parms, _ := a.Parameters.RSADetail()
		p := *parms
		if k.E != 65537 {
			p.Exponent = uint32(k.E)
		}
		a.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &p)
		a.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
		return &a, nil
	case *ecdsa.PublicKey:
		var a tpm2.TPMTPublic
		switch k.Curve {
		case elliptic.P256():
			a = tpm2.ECCEKTemplate
		case elliptic.P384():
			a = eccP384Area()
		default:
			return nil, fmt.Errorf("%w: curve %s", ErrEKKey, k.Curve.Params().Name)
		}
		e, err := k.ECDH() // also rejects points off the curve
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEKKey, err)
		}
		raw := e.Bytes()[1:] // uncompressed point: 0x04 || X || Y
		a.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: raw[:len(raw)/2]},
			Y: tpm2.TPM2BECCParameter{Buffer: raw[len(raw)/2:]},
		})
		return &a, nil
	default:
		return nil, fmt.Errorf("%w: %T", ErrEKKey, pub)
	}
}

// eccP384Area carries the parameters of EK template H-3 that matter for a
// credential: SHA-384 name algorithm and AES-256-CFB.
func eccP384Area() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA384,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{
				Algorithm: tpm2.TPMAlgAES,
				KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
				Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
			},
			CurveID: tpm2.TPMECCNistP384,
		}),
	}
}
