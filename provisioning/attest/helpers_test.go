package attest_test

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
)

// The byte strings a TPM would produce are built in software by
// testkit/softtpm, so the verifier's every branch can be driven without a
// TPM. The TPM-backed tests (tags tpmsimulator, swtpm) check the same
// verifier on real output. The names below are the ones this package's
// tests use for them.
var (
	signingAttrs   = softtpm.Attrs
	eccArea        = softtpm.ECCArea
	rsaArea        = softtpm.RSAArea
	public2B       = softtpm.Public2B
	nameOf         = softtpm.Name
	certifyAttest  = softtpm.CertifyAttest
	ecdsaSig       = softtpm.ECDSASig
	rsaSig         = softtpm.RSASig
	newP256        = pki.Key
	tpmSAN         = softtpm.SAN
	standardTPMSAN = softtpm.StandardSAN
	ekCertTemplate = softtpm.EKCertTemplate

	oidManufacturer = softtpm.OIDManufacturer
	oidModel        = softtpm.OIDModel
	oidVersion      = softtpm.OIDVersion
	oidEKCert       = softtpm.OIDEKCert
)

// manufacturer is a test TPM manufacturer: a root and an intermediate CA
// that issue EK certificates shaped like real ones.
type manufacturer struct {
	root, inter         *x509.Certificate
	rootKey, interKey   crypto.Signer
	roots, intermediate *x509.CertPool
}

func newManufacturer(t testing.TB) *manufacturer {
	t.Helper()
	root := softtpm.NewManufacturer(t)
	inter := root.Intermediate(t)
	return &manufacturer{
		root: root.Cert, inter: inter.Cert,
		rootKey: root.Key, interKey: inter.Key,
		roots: root.Pool(), intermediate: inter.Pool(),
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
