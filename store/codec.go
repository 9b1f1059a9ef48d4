package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Bucket layout. Every record is a JSON value so that the file can be read
// with the bbolt CLI when something goes wrong in the field.
//
//	meta              schema -> decimal schema version, serial -> uint64 counter
//	devices           <id> -> Device
//	certs             <serial> -> Certificate without DER
//	cert_der          <serial> -> DER bytes
//	certs_by_device   <id>/<serial> -> empty (device IDs never hold '/')
//	audit             uint64 big-endian sequence -> AuditEvent
//
// Added for enrollment (created on open in files that lack them):
//
//	groups            <name> -> Group
//	ek_hash           <EK hash> -> device ID
//	challenges        <id> -> Challenge (live, not yet consumed)
//	challenges_used   <id> -> uint64 big-endian expiry (unix ns) of a consumed challenge
//	challenge_expiry  <uint64 big-endian expiry (unix ns)><id> -> empty, for the sweep
//	tokens            <hex SHA-256 of the token> -> Token
//	rotations         <old serial>/<key hash> -> new serial
var (
	bucketMeta          = []byte("meta")
	bucketDevices       = []byte("devices")
	bucketCerts         = []byte("certs")
	bucketCertDER       = []byte("cert_der")
	bucketCertsByDevice = []byte("certs_by_device")
	bucketAudit         = []byte("audit")

	bucketGroups          = []byte("groups")
	bucketEKHash          = []byte("ek_hash")
	bucketChallenges      = []byte("challenges")
	bucketChallengesUsed  = []byte("challenges_used")
	bucketChallengeExpiry = []byte("challenge_expiry")
	bucketTokens          = []byte("tokens")
	bucketRotations       = []byte("rotations")
	bucketForeignCAs      = []byte("foreign_cas")

	keySchema = []byte("schema")
	keySerial = []byte("serial")
)

// coreBuckets are the buckets of the first release: a file of the current
// schema version without one of them is damaged.
var coreBuckets = [][]byte{bucketMeta, bucketDevices, bucketCerts, bucketCertDER, bucketCertsByDevice, bucketAudit}

// addedBuckets came later without a schema bump: they only add records an
// older build never reads, so Open creates them in a file that lacks them.
var addedBuckets = [][]byte{bucketGroups, bucketEKHash, bucketChallenges, bucketChallengesUsed,
	bucketChallengeExpiry, bucketTokens, bucketRotations, bucketForeignCAs}

// indexPrefix is the certs_by_device key prefix of one device. The '/'
// terminator keeps device "a" from matching the keys of device "ab".
func indexPrefix(deviceID string) []byte { return []byte(deviceID + "/") }

// indexKey is the certs_by_device key of one certificate.
func indexKey(deviceID, serial string) []byte { return []byte(deviceID + "/" + serial) }

// rotationKey is the rotations key of one (old serial, new key) pair.
func rotationKey(supersedes, keyHash string) []byte { return []byte(supersedes + "/" + keyHash) }

// seqKey encodes an audit sequence number so that byte order is numeric order.
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// getJSON decodes the value stored under key into v. It reports false when
// the key is absent.
func getJSON(b kv.Bucket, key []byte, v any) (bool, error) {
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
func putJSON(b kv.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, raw)
}
