package tpmkey

import "github.com/google/go-tpm/tpm2"

// eccSigningTemplate is an ECC P-256 ECDSA-SHA256 signing key whose private
// part is generated inside the TPM and can never leave it (fixedTPM,
// fixedParent, sensitiveDataOrigin). The auth value is empty: the key is
// bound to this TPM, not to a password the agent would have to store.
func eccSigningTemplate(restricted bool) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			Restricted:          restricted,
			SignEncrypt:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme: tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA,
					&tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// akTemplate is the attestation key: restricted, so the TPM signs only
// digests it computed itself and never something that mimics a TPM
// attestation (TPM_GENERATED_VALUE).
func akTemplate() tpm2.TPMTPublic { return eccSigningTemplate(true) }

// keyTemplate is the device's TLS key: not restricted, so it signs
// handshake transcripts and CSRs hashed outside the TPM.
func keyTemplate() tpm2.TPMTPublic { return eccSigningTemplate(false) }
