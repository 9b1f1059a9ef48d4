package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// The ek_hash bucket is the factory allow-list: it maps the hash of a TPM's
// endorsement key to the one device it belongs to. A TPM therefore names at
// most one device, and the enrollment service finds the device a TPM claims
// to be without scanning the registry.

// DeviceByEK returns the device whose TPM has the given EK hash (hex
// SHA-256 of the EK public area), or ErrNotFound.
func (db *DB) DeviceByEK(ctx context.Context, ekHash string) (Device, error) {
	var d Device
	err := db.view(ctx, func(tx kv.Tx) error {
		id := ekOwner(tx, ekHash)
		if id == "" {
			return fmt.Errorf("%w: no device with EK hash %q", ErrNotFound, ekHash)
		}
		var err error
		d, err = getDevice(tx, id)
		if err != nil {
			return fmt.Errorf("EK index: %w", err)
		}
		return nil
	})
	return d, err
}

// validateEKHash checks the form of an EK hash: 64 lower-case hex digits.
// Empty is allowed (no TPM known yet) and checked by callers that need one.
func validateEKHash(deviceID, ekHash string) error {
	if ekHash != "" && (len(ekHash) != 64 || !isLowerHex(ekHash)) {
		return fmt.Errorf("%w: device %s: EK hash %q is not a lower-case hex SHA-256", ErrInvalid, deviceID, ekHash)
	}
	return nil
}

// ekOwner returns the ID of the device holding ekHash, or "".
func ekOwner(tx kv.Tx, ekHash string) string {
	if ekHash == "" {
		return ""
	}
	return string(tx.Bucket(bucketEKHash).Get([]byte(ekHash)))
}

// checkEKFree fails with ErrExists when ekHash belongs to a device other
// than deviceID.
func checkEKFree(tx kv.Tx, deviceID, ekHash string) error {
	if owner := ekOwner(tx, ekHash); owner != "" && owner != deviceID {
		return fmt.Errorf("%w: EK hash %s already belongs to device %s", ErrExists, ekHash, owner)
	}
	return nil
}

// putEKOwner records that ekHash belongs to deviceID.
func putEKOwner(tx kv.Tx, deviceID, ekHash string) error {
	if ekHash == "" {
		return nil
	}
	return tx.Bucket(bucketEKHash).Put([]byte(ekHash), []byte(deviceID))
}
