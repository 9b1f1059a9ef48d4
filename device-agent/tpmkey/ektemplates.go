package tpmkey

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// EKKind names one of the TCG EK Credential Profile templates this package
// can re-create. The TPM derives the same EK from the same template every
// time, so knowing the kind is enough to get the key the certificate names.
type EKKind int

const (
	// EKECCP256 is template L-2 (ECC NIST P-256, SHA-256, AES-128);
	// certificate at NV index 0x01c0000a.
	EKECCP256 EKKind = iota + 1
	// EKECCP384 is high-range template H-3 (ECC NIST P-384, SHA-384,
	// AES-256, empty unique); certificate at NV index 0x01c00016. swtpm
	// writes its ECC EK certificate here.
	EKECCP384
	// EKRSA2048 is template L-1 (RSA 2048, SHA-256, AES-128); certificate
	// at NV index 0x01c00002, the one almost every TPM ships.
	EKRSA2048
)

// ekKinds is the order ReadEK tries: ECC first because an ECC primary key is
// derived in milliseconds on a real TPM while RSA-2048 can take seconds, and
// the agent re-creates the EK for every activation.
var ekKinds = []EKKind{EKECCP256, EKECCP384, EKRSA2048}

// String names the kind for logs.
func (k EKKind) String() string {
	switch k {
	case EKECCP256:
		return "ecc-p256"
	case EKECCP384:
		return "ecc-p384"
	case EKRSA2048:
		return "rsa-2048"
	default:
		return fmt.Sprintf("ekkind(%d)", int(k))
	}
}

// CertIndex is the NV index where the manufacturer stores the EK
// certificate for this kind.
func (k EKKind) CertIndex() tpm2.TPMHandle {
	switch k {
	case EKECCP256:
		return 0x01c0000a
	case EKECCP384:
		return 0x01c00016
	case EKRSA2048:
		return 0x01c00002
	default:
		return 0
	}
}

// template returns the TCG template for the kind.
func (k EKKind) template() (tpm2.TPMTPublic, error) {
	switch k {
	case EKECCP256:
		return tpm2.ECCEKTemplate, nil
	case EKECCP384:
		return eccP384EKTemplate(), nil
	case EKRSA2048:
		return tpm2.RSAEKTemplate, nil
	default:
		return tpm2.TPMTPublic{}, fmt.Errorf("%w: unknown kind %d", ErrNoEK, int(k))
	}
}

// policyBSHA384 is the TCG EK profile's PolicyB digest for SHA-384 (the
// PolicyOR that high-range EKs carry as authPolicy). It must match to the
// byte, since it is part of the public area and thus of the EK itself.
var policyBSHA384 = []byte{
	0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc,
	0xf5, 0xfd, 0x3a, 0x1a, 0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4,
	0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca, 0xcb, 0x47, 0xba, 0x09,
	0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
}

// eccP384EKTemplate is template H-3. High-range templates set userWithAuth
// with an empty auth value, so ActivateCredential may use a password
// session instead of the policy.
func eccP384EKTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA384,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			AdminWithPolicy:     true,
			Restricted:          true,
			Decrypt:             true,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policyBSHA384},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{
				Algorithm: tpm2.TPMAlgAES,
				KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
				Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
			},
			CurveID: tpm2.TPMECCNistP384,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}
