package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// This file makes, in software, the byte strings a TPM would send, so that
// the enrollment routes can be driven end to end over HTTPS without a TPM.
// Credential activation is the one step software cannot do without the
// EK's private key inside a TPM: soft tests read the secret from the
// registry instead. The simulator tests (tag tpmsimulator) run the same
// routes with a real TPM.

// softTPM stands in for a TPM: an AK (restricted signing key) and an EK.
type softTPM struct {
	ak       *ecdsa.PrivateKey
	akPublic []byte // TPM2B_PUBLIC
	ek       *ecdsa.PrivateKey
}

func newSoftTPM(t testing.TB) *softTPM {
	t.Helper()
	s := &softTPM{ak: newP256(t), ek: newP256(t)}
	s.akPublic = public2B(eccArea(s.ak.Public().(*ecdsa.PublicKey), keyAttrs(true)))
	return s
}

// certify returns what TPM2_Certify of a key with the given attributes
// would return, made by the AK with nonce: the key's TPM2B_PUBLIC, the
// TPMS_ATTEST and the AK's TPMT_SIGNATURE over it.
func (s *softTPM) certify(t testing.TB, key *ecdsa.PublicKey, attrs tpm2.TPMAObject, nonce []byte) (keyPublic, attestation, sig []byte) {
	t.Helper()
	area := eccArea(key, attrs)
	name, err := tpm2.ObjectName(&area)
	if err != nil {
		t.Fatal(err)
	}
	attestation = tpm2.Marshal(tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0x00, 0x0b}, make([]byte, 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1234, Safe: true},
		FirmwareVersion: 0x2019102300000000,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name:          tpm2.TPM2BName{Buffer: name.Buffer},
			QualifiedName: tpm2.TPM2BName{Buffer: name.Buffer},
		}),
	})
	return public2B(area), attestation, s.sign(t, attestation)
}

// sign is the AK's TPMT_SIGNATURE (ECDSA-SHA256) over msg.
func (s *softTPM) sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	d := sha256.Sum256(msg)
	r, ss, err := ecdsa.Sign(rand.Reader, s.ak, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: ss.Bytes()},
		}),
	})
}

// keyAttrs are the attributes tpmkey gives its AK (restricted) and its TLS
// key (not restricted).
func keyAttrs(restricted bool) tpm2.TPMAObject {
	return tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: restricted, SignEncrypt: true,
	}
}

// eccArea is the public area of a P-256 ECDSA-SHA256 key.
func eccArea(pub *ecdsa.PublicKey, attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: pub.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: pub.Y.FillBytes(make([]byte, 32))},
		}),
	}
}

func public2B(area tpm2.TPMTPublic) []byte { return tpm2.Marshal(tpm2.New2B(area)) }

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// manufacturer is a TPM vendor's root CA, which signs EK certificates.
type manufacturer struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newManufacturer(t testing.TB) *manufacturer {
	t.Helper()
	key := newP256(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test TPM manufacturer root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &manufacturer{root: root, key: key}
}

func (m *manufacturer) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(m.root)
	return p
}

// ekCert issues an EK certificate for pub the way manufacturers do: empty
// subject, a critical SAN naming the TPM, the EK certificate EKU.
func (m *manufacturer) ekCert(t testing.TB, pub any) []byte {
	t.Helper()
	return makeEKCert(t, pub, m.root, m.key)
}

// selfSignedEKCert is a forged EK certificate for key, signed by key
// itself: it looks like an EK certificate and chains to nothing.
func selfSignedEKCert(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	return makeEKCert(t, &key.PublicKey, nil, key)
}

func makeEKCert(t testing.TB, pub any, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	atv := func(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	name, err := asn1.Marshal(pkix.RDNSequence{{
		atv(asn1.ObjectIdentifier{2, 23, 133, 2, 1}, "id:46420000"),
		atv(asn1.ObjectIdentifier{2, 23, 133, 2, 2}, "fleetgate-test"),
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
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}},
	}
	if parent == nil {
		tmpl.Subject = pkix.Name{CommonName: "forged EK"}
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// intermediate issues a manufacturer intermediate CA, which then signs EK
// certificates as some vendors (and swtpm-localca) do.
func (m *manufacturer) intermediate(t testing.TB) *manufacturer {
	t.Helper()
	key := newP256(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "test TPM manufacturer intermediate"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.root, &key.PublicKey, m.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &manufacturer{root: c, key: key}
}
