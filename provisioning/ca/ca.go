package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"time"
)

// CA is the loaded certificate authority. It holds the device CA and
// operator CA keys for issuing, and the server certificate for TLS. The root
// key is read only to check and renew material during Bootstrap and Load;
// it is not kept in memory. A CA loaded from a broker bundle
// (LoadBrokerBundle) holds no CA key at all: it serves and verifies only.
//
// A CA is immutable and safe for concurrent use.
type CA struct {
	dir string
	now func() time.Time

	root        *x509.Certificate
	deviceCA    *x509.Certificate
	deviceKey   crypto.Signer
	trusted     []*x509.Certificate // older intermediates, trusted but not issuing
	trustedKeys []crypto.Signer     // their kept keys (KeptKeyFile), nil where none
	operatorCA  *x509.Certificate
	operatorKey crypto.Signer
	server      tls.Certificate
	publicURL   string            // base of the revocation URLs in device certificates; "" for none
	previous    *x509.Certificate // during a root rollover, the root being replaced; else nil
	trustBundle []byte            // TrustBundleFile as written; nil when there is none
}

// Dir returns the directory the CA was loaded from.
func (ca *CA) Dir() string { return ca.dir }

// Root returns the root certificate. Callers must not modify it.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// DeviceCA returns the intermediate that signs device certificates. Callers
// must not modify it.
func (ca *CA) DeviceCA() *x509.Certificate { return ca.deviceCA }

// OperatorCA returns the CA that signs operator client certificates.
// Callers must not modify it.
func (ca *CA) OperatorCA() *x509.Certificate { return ca.operatorCA }

// TrustedDeviceCAs returns the older device intermediates read from
// TrustedDeviceCAsFile: still trusted for device client authentication,
// never used to issue. The slice is a copy; callers must not modify the
// certificates.
func (ca *CA) TrustedDeviceCAs() []*x509.Certificate { return slices.Clone(ca.trusted) }

// DevicePool returns a new pool holding the device intermediates only: the
// issuing one and the trusted older ones. It is the broker's ClientCAs. The
// root is deliberately absent, so a certificate the root signed directly
// (such as the server's) never passes as a device. Each call returns a
// fresh pool so that no caller can add to another's.
func (ca *CA) DevicePool() *x509.CertPool {
	p := poolOf(ca.deviceCA)
	for _, c := range ca.trusted {
		p.AddCert(c)
	}
	return p
}

// OperatorPool returns a new pool holding only the operator CA: the API's
// ClientCAs for operator calls.
func (ca *CA) OperatorPool() *x509.CertPool { return poolOf(ca.operatorCA) }

// RootPool returns a new pool holding the roots in force (the root and,
// during a root rollover, the previous root): what devices and operators
// use to verify the server.
func (ca *CA) RootPool() *x509.CertPool {
	p := poolOf(ca.root)
	if ca.previous != nil {
		p.AddCert(ca.previous)
	}
	return p
}

// PreviousRoot returns the root a rollover is replacing, or nil when no
// rollover is in progress. Callers must not modify it.
func (ca *CA) PreviousRoot() *x509.Certificate { return ca.previous }

// TrustBundle returns the signed trust bundle (TrustBundleFile) as
// written, or nil when the directory has none.
func (ca *CA) TrustBundle() []byte { return ca.trustBundle }

// ServerCertificate returns the TLS server certificate with its key and
// Leaf set. The chain is the leaf alone: it is signed by the root, which
// clients already hold; during a root rollover the cross-certificate of
// the new root follows it, so clients holding only the previous root
// verify it too. Each call returns a copy of the struct.
func (ca *CA) ServerCertificate() *tls.Certificate {
	c := ca.server
	return &c
}

// DeviceChainPEM returns the device CA certificate as PEM: what a device
// sends after its own leaf so that verifiers holding only the root can build
// the chain.
func (ca *CA) DeviceChainPEM() []byte { return EncodeCertPEM(ca.deviceCA) }

// RootPEM returns the root certificate as PEM, for clients to trust.
func (ca *CA) RootPEM() []byte { return EncodeCertPEM(ca.root) }

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// IssuerChainPEM returns, as PEM, the device intermediate (issuing or
// trusted) whose key signed leaf: what a device sends after leaf. It is
// nil when none of them did, for instance for a certificate of a retired
// intermediate.
func (ca *CA) IssuerChainPEM(leaf *x509.Certificate) []byte {
	for _, c := range append([]*x509.Certificate{ca.deviceCA}, ca.trusted...) {
		if leaf.CheckSignatureFrom(c) == nil {
			return EncodeCertPEM(c)
		}
	}
	return nil
}
