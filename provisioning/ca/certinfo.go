package ca

import (
	"crypto/x509"

	"github.com/fleetgate/fleetgate/identity"
)

// Fingerprint returns the lower-case hex SHA-256 of the certificate's DER,
// the form the registry stores to pin a device to one exact certificate.
func Fingerprint(c *x509.Certificate) string { return identity.Fingerprint(c) }

// SerialHex returns the serial number as lower-case hex without leading
// zeros, the form the registry stores.
func SerialHex(c *x509.Certificate) string { return identity.SerialHex(c) }
