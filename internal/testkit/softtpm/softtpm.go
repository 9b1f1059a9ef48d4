// Package softtpm makes, in software, the byte strings a TPM would send:
// public areas, TPM2_Certify attestations, TPMT_SIGNATUREs, and the EK
// certificates of a test manufacturer. Verifiers and the enrolment routes
// can then be driven through every branch without a TPM; the tests under
// the tpmsimulator and swtpm tags check the same code on real output.
// Credential activation is the one step software cannot do without an EK
// inside a TPM.
package softtpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// Attrs are the attributes tpmkey gives its keys: the AK is restricted,
// the TLS key is not.
func Attrs(restricted bool) tpm2.TPMAObject {
	return tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: restricted, SignEncrypt: true,
	}
}

// ECCArea is the public area of an ECDSA-SHA256 key on pub's curve with
// the given attributes and name algorithm.
func ECCArea(t testing.TB, pub *ecdsa.PublicKey, attrs tpm2.TPMAObject, nameAlg tpm2.TPMAlgID) tpm2.TPMTPublic {
	t.Helper()
	curve := map[elliptic.Curve]tpm2.TPMECCCurve{
		elliptic.P256(): tpm2.TPMECCNistP256,
		elliptic.P384(): tpm2.TPMECCNistP384,
		elliptic.P521(): tpm2.TPMECCNistP521,
	}[pub.Curve]
	size := (pub.Curve.Params().BitSize + 7) / 8
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          nameAlg,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: curve,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: pub.X.FillBytes(make([]byte, size))},
			Y: tpm2.TPM2BECCParameter{Buffer: pub.Y.FillBytes(make([]byte, size))},
		}),
	}
}

// RSAArea is the public area of an RSASSA-SHA256 key.
func RSAArea(pub *rsa.PublicKey, attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgRSA,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: tpm2.TPMKeyBits(pub.N.BitLen()),
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: pub.N.Bytes()}),
	}
}

// EKPublic is the TPM2B_PUBLIC of a P-256 endorsement key for pub, made
// from the TCG EK template (L-2) as a TPM makes it.
func EKPublic(pub *ecdsa.PublicKey) []byte {
	a := tpm2.ECCEKTemplate
	a.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pub.X.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: pub.Y.FillBytes(make([]byte, 32))},
	})
	return Public2B(a)
}

// Public2B encodes a public area as TPM2B_PUBLIC.
func Public2B(area tpm2.TPMTPublic) []byte { return tpm2.Marshal(tpm2.New2B(area)) }

// Name is the TPM Name of a public area, as the TPM computes it.
func Name(t testing.TB, area tpm2.TPMTPublic) []byte {
	t.Helper()
	n, err := tpm2.ObjectName(&area)
	if err != nil {
		t.Fatalf("ObjectName: %v", err)
	}
	return n.Buffer
}

// CertifyAttest is the TPMS_ATTEST a TPM returns from TPM2_Certify of the
// object called name, with nonce as its extra data.
func CertifyAttest(name, nonce []byte) []byte {
	return tpm2.Marshal(tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0x00, 0x0b}, make([]byte, 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1234, Safe: true},
		FirmwareVersion: 0x2019102300000000,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name:          tpm2.TPM2BName{Buffer: name},
			QualifiedName: tpm2.TPM2BName{Buffer: name},
		}),
	})
}

// ECDSASig signs msg with SHA-256 and encodes a TPMT_SIGNATURE.
func ECDSASig(t testing.TB, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()},
		}),
	})
}

// RSASig signs msg with RSASSA-SHA256 and encodes a TPMT_SIGNATURE.
func RSASig(t testing.TB, k *rsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	d := sha256.Sum256(msg)
	s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgRSASSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
			Hash: tpm2.TPMAlgSHA256,
			Sig:  tpm2.TPM2BPublicKeyRSA{Buffer: s},
		}),
	})
}

// TPM stands in for a device's TPM: a P-256 AK (restricted signing key)
// and a P-256 EK.
type TPM struct {
	AK *ecdsa.PrivateKey
	// AKPublic is the AK's TPM2B_PUBLIC.
	AKPublic []byte
	EK       *ecdsa.PrivateKey
}

// New makes a TPM with fresh keys.
func New(t testing.TB) *TPM {
	t.Helper()
	return WithEK(t, pki.Key(t))
}

// WithEK makes a TPM with a fresh AK and the given EK.
func WithEK(t testing.TB, ek *ecdsa.PrivateKey) *TPM {
	t.Helper()
	ak := pki.Key(t)
	return &TPM{AK: ak, AKPublic: Public2B(ECCArea(t, &ak.PublicKey, Attrs(true), tpm2.TPMAlgSHA256)), EK: ek}
}

// Certify returns what TPM2_Certify of a P-256 key with the given
// attributes would return, made by the AK with nonce: the key's
// TPM2B_PUBLIC, the TPMS_ATTEST and the AK's TPMT_SIGNATURE over it.
func (s *TPM) Certify(t testing.TB, key *ecdsa.PublicKey, attrs tpm2.TPMAObject, nonce []byte) (keyPublic, attestation, sig []byte) {
	t.Helper()
	area := ECCArea(t, key, attrs, tpm2.TPMAlgSHA256)
	attestation = CertifyAttest(Name(t, area), nonce)
	return Public2B(area), attestation, s.Sign(t, attestation)
}

// Sign is the AK's TPMT_SIGNATURE (ECDSA-SHA256) over msg.
func (s *TPM) Sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	return ECDSASig(t, s.AK, msg)
}
