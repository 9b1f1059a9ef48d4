package softtpm

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// Object identifiers of EK certificates.
var (
	OIDSAN          = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	OIDModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	OIDVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	OIDEKCert       = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// SAN is a critical subject alternative name holding one directoryName
// with the given attributes, the way TPM manufacturers write it.
func SAN(t testing.TB, atvs ...pkix.AttributeTypeAndValue) pkix.Extension {
	t.Helper()
	name, err := asn1.Marshal(pkix.RDNSequence{atvs})
	if err != nil {
		t.Fatalf("marshal name: %v", err)
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatalf("marshal SAN: %v", err)
	}
	return pkix.Extension{Id: OIDSAN, Critical: true, Value: v}
}

// StandardSAN names a manufacturer, model and firmware version.
func StandardSAN(t testing.TB) pkix.Extension {
	t.Helper()
	return SAN(t,
		pkix.AttributeTypeAndValue{Type: OIDManufacturer, Value: "id:46420000"},
		pkix.AttributeTypeAndValue{Type: OIDModel, Value: "fleetgate-test"},
		pkix.AttributeTypeAndValue{Type: OIDVersion, Value: "id:00010002"})
}

// EKCertTemplate is an EK certificate: empty subject, the extensions
// given (StandardSAN when none), the tcg-kp-EKCertificate EKU and key
// encipherment. pki.Issue fills in serial and validity.
func EKCertTemplate(t testing.TB, extra ...pkix.Extension) *x509.Certificate {
	t.Helper()
	if extra == nil {
		extra = []pkix.Extension{StandardSAN(t)}
	}
	return &x509.Certificate{
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDEKCert},
		BasicConstraintsValid: true,
		ExtraExtensions:       extra,
	}
}

// SelfSignedEKCert is a forged EK certificate for key, signed by key
// itself: shaped like a manufacturer's, chaining to nothing. It is DER.
func SelfSignedEKCert(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := EKCertTemplate(t)
	tmpl.Subject = pkix.Name{CommonName: "forged EK"}
	return pki.Issue(t, tmpl, nil, &key.PublicKey, key).Raw
}

// Manufacturer is a TPM vendor's CA that signs EK certificates: a root,
// or an intermediate under one as some vendors (and swtpm-localca) have.
type Manufacturer struct {
	*pki.CA
}

// NewManufacturer makes a manufacturer root CA.
func NewManufacturer(t testing.TB) *Manufacturer {
	t.Helper()
	return &Manufacturer{pki.NewCA(t, "test TPM manufacturer root")}
}

// Intermediate issues an intermediate CA under m.
func (m *Manufacturer) Intermediate(t testing.TB) *Manufacturer {
	t.Helper()
	key := pki.Key(t)
	cert := m.Issue(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "test TPM manufacturer intermediate"},
		IsCA:     true,
		KeyUsage: x509.KeyUsageCertSign,
	}, key.Public())
	return &Manufacturer{&pki.CA{Cert: cert, Key: key}}
}

// EKCert issues an EK certificate for pub the way manufacturers do.
func (m *Manufacturer) EKCert(t testing.TB, pub any) *x509.Certificate {
	t.Helper()
	return m.Issue(t, EKCertTemplate(t), pub)
}
