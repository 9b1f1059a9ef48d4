package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
)

// Fingerprint returns the lower-case hex SHA-256 of the certificate's DER,
// the form the registry stores to pin a device to one exact certificate.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// SerialHex returns the serial number as lower-case hex without leading
// zeros, the form the registry stores.
func SerialHex(c *x509.Certificate) string { return c.SerialNumber.Text(16) }
