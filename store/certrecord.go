package store

import (
	"bytes"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// A certificate is stored in two parts: the JSON record without its DER in
// certs, and the DER, raw, in cert_der. Lookup runs on every MQTT CONNECT
// and JSON-decoding a base64 DER made up most of its cost; the DER never
// changes after issue, so status updates rewrite only the small record.

// getCert reads one certificate, DER included, inside tx.
func getCert(tx kv.Tx, serial string) (Certificate, error) {
	var c Certificate
	ok, err := getJSON(tx.Bucket(bucketCerts), []byte(serial), &c)
	if err != nil {
		return Certificate{}, err
	}
	if !ok {
		return Certificate{}, fmt.Errorf("%w: certificate serial %q", ErrNotFound, serial)
	}
	// Values read from bbolt live only as long as the transaction: copy.
	if der := tx.Bucket(bucketCertDER).Get([]byte(serial)); len(der) > 0 {
		c.DER = bytes.Clone(der)
	}
	return c, nil
}

// putCert writes a certificate's record, leaving its DER where it is.
func putCert(tx kv.Tx, c Certificate) error {
	c.DER = nil
	return putJSON(tx.Bucket(bucketCerts), []byte(c.Serial), c)
}

// insertCert writes a new certificate: its record, its DER, the device
// index entry and, for a rotation, the rotations index entry. The caller
// has checked that the serial is free (checkNewCert).
func insertCert(tx kv.Tx, c Certificate) error {
	c.IssuerKeyID = IssuerKeyOf(c)
	if err := putCert(tx, c); err != nil {
		return err
	}
	if len(c.DER) > 0 {
		if err := tx.Bucket(bucketCertDER).Put([]byte(c.Serial), c.DER); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketCertsByDevice).Put(indexKey(c.DeviceID, c.Serial), []byte{}); err != nil {
		return err
	}
	if c.Supersedes != "" && c.KeyHash != "" {
		return tx.Bucket(bucketRotations).Put(rotationKey(c.Supersedes, c.KeyHash), []byte(c.Serial))
	}
	return nil
}

// checkNewCert fails with ErrExists when the serial is already recorded.
func checkNewCert(tx kv.Tx, serial string) error {
	if tx.Bucket(bucketCerts).Get([]byte(serial)) != nil {
		return fmt.Errorf("%w: certificate serial %s", ErrExists, serial)
	}
	return nil
}
