package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// The TPM rows need no TPM: the server refuses them at the EK step of
// start, before any credential is activated. The AK is a well-formed
// public area (a restricted P-256 signing key), so that the refusal is the
// EK's and not the AK's.

// tpmSelfSignedEK: an EK certificate shaped like a manufacturer's (TPM
// SAN, EK certificate EKU) but signed by its own key chains to no
// manufacturer root.
func tpmSelfSignedEK(t *testing.T, e *attackEnv) {
	ek := pki.Key(t)
	_, err := e.startTPM(t, wire.TPMStartRequest{DeviceID: victimID, EKCert: selfSignedEKCert(t, ek), AKPublic: akPublic(t)})
	expectCode(t, err, wire.CodeEKUntrusted)
}

// tpmEKNotAllowed: an EK public area whose hash no device was registered
// with, both for a named device (registered without an EK) and for a
// lookup by EK alone.
func tpmEKNotAllowed(t *testing.T, e *attackEnv) {
	ek := ekPublic(t, &pki.Key(t).PublicKey)
	for _, id := range []string{victimID, ""} {
		_, err := e.startTPM(t, wire.TPMStartRequest{DeviceID: id, EKPublic: ek, AKPublic: akPublic(t)})
		expectCode(t, err, wire.CodeEKNotAllowed)
	}
}

func (e *attackEnv) startTPM(t *testing.T, r wire.TPMStartRequest) (wire.TPMStartResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), attackWait)
	defer cancel()
	return e.enrollClient().StartTPM(ctx, r)
}

// akPublic is the TPM2B_PUBLIC of a fresh P-256 attestation key.
func akPublic(t *testing.T) []byte {
	t.Helper()
	k := pki.Key(t)
	return tpm2.Marshal(tpm2.New2B(tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, Restricted: true, SignEncrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: eccPoint(k.PublicKey),
	}))
}

// ekPublic is the TPM2B_PUBLIC of a P-256 endorsement key: a restricted
// decryption key with the attributes of the TCG EK template.
func ekPublic(t *testing.T, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	return tpm2.Marshal(tpm2.New2B(tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			AdminWithPolicy: true, Restricted: true, Decrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{
				Algorithm: tpm2.TPMAlgAES,
				KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
				Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
			},
			Scheme:  tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: eccPoint(*pub),
	}))
}

func eccPoint(pub ecdsa.PublicKey) tpm2.TPMUPublicID {
	return tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pub.X.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: pub.Y.FillBytes(make([]byte, 32))},
	})
}

// selfSignedEKCert is a forged EK certificate for key: empty subject, a
// critical SAN naming a TPM, the EK certificate EKU, signed by key itself.
func selfSignedEKCert(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	atv := func(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	name, err := asn1.Marshal(pkix.RDNSequence{{
		atv(asn1.ObjectIdentifier{2, 23, 133, 2, 1}, "id:46420000"),
		atv(asn1.ObjectIdentifier{2, 23, 133, 2, 2}, "forged"),
		atv(asn1.ObjectIdentifier{2, 23, 133, 2, 3}, "id:00010002"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "forged EK"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
