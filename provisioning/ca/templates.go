package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"time"
)

// Lifetimes of the material Bootstrap creates.
const (
	rootLifetime       = 10 * 365 * 24 * time.Hour
	deviceCALifetime   = 5 * 365 * 24 * time.Hour
	operatorCALifetime = 10 * 365 * 24 * time.Hour
	serverLifetime     = 365 * 24 * time.Hour

	// ServerRenewBefore is how close to expiry the server certificate must
	// be for Bootstrap to renew it.
	ServerRenewBefore = 30 * 24 * time.Hour

	// caBackdate lets devices whose clocks lag behind the server accept a
	// freshly created server certificate and CA at once.
	caBackdate = time.Hour
)

// organization names the issuer in every subject, for people reading
// certificates; nothing trusts it.
const organization = "fleetgate"

// caTemplate describes a CA certificate. maxPathLen 0 yields a CA that may
// sign leaves only; ekus, when set, limit what its leaves can be used for
// (Go's verifier enforces EKU nesting along the chain).
func caTemplate(cn string, now time.Time, lifetime time.Duration, maxPathLen int, ekus []x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{organization}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           ekus,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}
}

// serverTemplate describes the TLS server certificate: serverAuth only, so
// it can never pass as a client.
func serverTemplate(names serverNames, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: names.commonName(), Organization: []string{organization}},
		DNSNames:              names.dns,
		IPAddresses:           names.ips,
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(serverLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
}

// clientTemplate describes a client leaf (device or operator): one URI SAN
// naming who it is, the same name as CN for people, clientAuth only, not a
// CA.
func clientTemplate(cn string, uri *url.URL, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		URIs:                  []*url.URL{uri},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
}

// sign completes tmpl (serial, key identifier, validity capped to the
// issuer's) and signs it. A nil parent means self-signed. A nil serial draws
// a random one.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if signer == nil {
		return nil, fmt.Errorf("sign %q: %w", tmpl.Subject.CommonName, ErrNoCAKey)
	}
	if tmpl.SerialNumber == nil {
		serial, err := randomSerial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl.SubjectKeyId = skid
	if parent == nil {
		parent = tmpl
	} else if tmpl.NotAfter.After(parent.NotAfter) {
		// A certificate outliving its issuer fails verification at the
		// issuer's expiry anyway; saying so in the certificate is honest.
		tmpl.NotAfter = parent.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}
