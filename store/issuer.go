package store

import (
	"crypto/x509"
	"encoding/hex"
)

// IssuerKeyOf returns the key identifier of the CA that signed c: the
// recorded IssuerKeyID, else the AuthorityKeyId read from c.DER, else ""
// (no DER, or a certificate without the extension: no issuer selection
// can take it).
func IssuerKeyOf(c Certificate) string {
	if c.IssuerKeyID != "" || len(c.DER) == 0 {
		return c.IssuerKeyID
	}
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil || len(cert.AuthorityKeyId) == 0 {
		return ""
	}
	return hex.EncodeToString(cert.AuthorityKeyId)
}
