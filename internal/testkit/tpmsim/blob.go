package tpmsim

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// KeyBlob creates a key from tmpl under the standard ECC SRK that tpmkey
// uses and encodes it as tpmkey's blobs are (TPM2B_PUBLIC then
// TPM2B_PRIVATE), so that tpmkey can load keys it would never create.
func KeyBlob(t testing.TB, tpm transport.TPM, tmpl tpm2.TPMTPublic) []byte {
	t.Helper()
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		t.Fatalf("create SRK: %v", err)
	}
	defer func() { _, _ = tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(tpm) }()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(tmpl),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	pub, priv := rsp.OutPublic.Bytes(), rsp.OutPrivate.Buffer
	b := binary.BigEndian.AppendUint16(nil, uint16(len(pub)))
	b = append(b, pub...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(priv)))
	return append(b, priv...)
}

// SigningTemplate is an ECC P-256 ECDSA-SHA256 signing key with the given
// attributes, for KeyBlob.
func SigningTemplate(attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}
