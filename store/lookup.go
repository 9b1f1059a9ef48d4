package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Lookup returns a device and one of its certificates, read in one
// transaction so that both belong to the same moment. The broker calls it on
// every CONNECT, so it only reads. It returns ErrNotFound when either record
// is missing or when the certificate was issued to another device. It does
// not judge the statuses: that is the caller's policy. On etcd it reads
// the local copy (no DER in the certificate) and fails with ErrUnavailable
// once etcd has been silent for longer than the grace period.
func (db *DB) Lookup(ctx context.Context, deviceID, serial string) (Device, Certificate, error) {
	var d Device
	var c Certificate
	err := db.viewLocal(ctx, func(tx kv.Tx) error {
		var err error
		if d, err = getDevice(tx, deviceID); err != nil {
			return err
		}
		if c, err = getCert(tx, serial); err != nil {
			return err
		}
		if c.DeviceID != deviceID {
			return fmt.Errorf("%w: certificate serial %s was issued to device %q, not %q", ErrNotFound, serial, c.DeviceID, deviceID)
		}
		return nil
	})
	if err != nil {
		return Device{}, Certificate{}, err
	}
	return d, c, nil
}
