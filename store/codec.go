package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout. Every record is a JSON value so that the file can be read
// with the bbolt CLI when something goes wrong in the field.
//
//	meta             schema -> decimal schema version, serial -> uint64 counter
//	devices          <id> -> Device
//	certs            <serial> -> Certificate without DER
//	cert_der         <serial> -> DER bytes
//	certs_by_device  <id>/<serial> -> empty (device IDs never hold '/')
//	audit            uint64 big-endian sequence -> AuditEvent
var (
	bucketMeta          = []byte("meta")
	bucketDevices       = []byte("devices")
	bucketCerts         = []byte("certs")
	bucketCertDER       = []byte("cert_der")
	bucketCertsByDevice = []byte("certs_by_device")
	bucketAudit         = []byte("audit")

	keySchema = []byte("schema")
	keySerial = []byte("serial")
)

// allBuckets lists the buckets a registry of the current schema holds.
var allBuckets = [][]byte{bucketMeta, bucketDevices, bucketCerts, bucketCertDER, bucketCertsByDevice, bucketAudit}

// indexPrefix is the certs_by_device key prefix of one device. The '/'
// terminator keeps device "a" from matching the keys of device "ab".
func indexPrefix(deviceID string) []byte { return []byte(deviceID + "/") }

// indexKey is the certs_by_device key of one certificate.
func indexKey(deviceID, serial string) []byte { return []byte(deviceID + "/" + serial) }

// seqKey encodes an audit sequence number so that byte order is numeric order.
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// getJSON decodes the value stored under key into v. It reports false when
// the key is absent.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := decode(raw, v); err != nil {
		return false, fmt.Errorf("record %q: %w", key, err)
	}
	return true, nil
}

// decode parses one stored JSON record.
func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// putJSON encodes v and stores it under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, raw)
}
