package attest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// This file builds, in software, the byte strings a TPM would produce, so
// the verifier's every branch can be driven without a TPM. The TPM-backed
// tests (tags tpmsimulator, swtpm) check the same verifier on real output.

// signingAttrs are the attributes tpmkey gives its keys.
func signingAttrs(restricted bool) tpm2.TPMAObject {
	return tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: restricted, SignEncrypt: true,
	}
}

// eccArea is the public area of an ECDSA-SHA256 key with the given attributes.
func eccArea(t testing.TB, pub *ecdsa.PublicKey, attrs tpm2.TPMAObject, nameAlg tpm2.TPMAlgID) tpm2.TPMTPublic {
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

// rsaArea is the public area of an RSASSA-SHA256 key.
func rsaArea(pub *rsa.PublicKey, attrs tpm2.TPMAObject) tpm2.TPMTPublic {
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

// public2B encodes a public area as TPM2B_PUBLIC.
func public2B(area tpm2.TPMTPublic) []byte { return tpm2.Marshal(tpm2.New2B(area)) }

// nameOf is the TPM Name of a public area, as the TPM computes it.
func nameOf(t testing.TB, area tpm2.TPMTPublic) []byte {
	t.Helper()
	n, err := tpm2.ObjectName(&area)
	if err != nil {
		t.Fatalf("ObjectName: %v", err)
	}
	return n.Buffer
}

// certifyAttest is the TPMS_ATTEST a TPM returns from TPM2_Certify.
func certifyAttest(name, nonce []byte) []byte {
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

// ecdsaSig signs msg with SHA-256 and encodes a TPMT_SIGNATURE.
func ecdsaSig(t testing.TB, k *ecdsa.PrivateKey, msg []byte) []byte {
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

// rsaSig signs msg with RSASSA-SHA256 and encodes a TPMT_SIGNATURE.
func rsaSig(t testing.TB, k *rsa.PrivateKey, msg []byte) []byte {
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

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	return k
}

// manufacturer is a test TPM manufacturer: a root and an intermediate CA
// that issue EK certificates shaped like real ones.
type manufacturer struct {
	root, inter         *x509.Certificate
	rootKey, interKey   *ecdsa.PrivateKey
	roots, intermediate *x509.CertPool
}

func newManufacturer(t testing.TB) *manufacturer {
	t.Helper()
	m := &manufacturer{rootKey: newP256(t), interKey: newP256(t)}
	m.root = pki.Issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Test TPM Root CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, &m.rootKey.PublicKey, m.rootKey)
	m.inter = pki.Issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Test TPM EK CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, m.root, &m.interKey.PublicKey, m.rootKey)
	m.roots = x509.NewCertPool()
	m.roots.AddCert(m.root)
	m.intermediate = x509.NewCertPool()
	m.intermediate.AddCert(m.inter)
	return m
}

var (
	oidSAN          = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidEKCert       = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// tpmSAN is a critical SAN holding one directoryName with the given
// attributes, the way TPM manufacturers write it.
func tpmSAN(t testing.TB, atvs ...pkix.AttributeTypeAndValue) pkix.Extension {
	t.Helper()
	name, err := asn1.Marshal(pkix.RDNSequence{atvs})
	if err != nil {
		t.Fatalf("marshal name: %v", err)
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatalf("marshal SAN: %v", err)
	}
	return pkix.Extension{Id: oidSAN, Critical: true, Value: v}
}

// standardTPMSAN names manufacturer, model and firmware version.
func standardTPMSAN(t testing.TB) pkix.Extension {
	return tpmSAN(t,
		pkix.AttributeTypeAndValue{Type: oidManufacturer, Value: "id:46420000"},
		pkix.AttributeTypeAndValue{Type: oidModel, Value: "fleetgate-test"},
		pkix.AttributeTypeAndValue{Type: oidVersion, Value: "id:00010002"})
}

// ekCertTemplate is an EK certificate: empty subject, critical TPM SAN,
// tcg-kp-EKCertificate EKU, key encipherment.
func ekCertTemplate(t testing.TB, extra ...pkix.Extension) *x509.Certificate {
	if extra == nil {
		extra = []pkix.Extension{standardTPMSAN(t)}
	}
	return &x509.Certificate{
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidEKCert},
		BasicConstraintsValid: true,
		ExtraExtensions:       extra,
	}
}

// ekCert issues an EK certificate for pub from the intermediate CA.
func (m *manufacturer) ekCert(t testing.TB, pub any) *x509.Certificate {
	return pki.Issue(t, ekCertTemplate(t), m.inter, pub, m.interKey)
}

// ekCertFromRoot issues an EK certificate for pub directly from the root.
func (m *manufacturer) ekCertFromRoot(t testing.TB, pub any) *x509.Certificate {
	return pki.Issue(t, ekCertTemplate(t), m.root, pub, m.rootKey)
}
