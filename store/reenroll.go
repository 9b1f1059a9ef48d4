package store

import (
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// checkTokenReenrollment decides whether a token may enroll a device that
// already exists. That is the re-enrollment policy for software-key devices
// whose certificate expired while they were offline: they cannot rotate
// (rotation needs a valid certificate), so an operator hands them a fresh
// token of their group. It is allowed only when the device
//
//   - is active (a suspended or revoked device stays out: ErrState),
//   - has no TPM binding (a TPM device re-enrolls by attestation: ErrPolicy),
//   - belongs to the token's group (ErrPolicy), and
//   - holds no active certificate that is still valid (ErrExists: it can
//     rotate with that one, and a token must not mint a second identity
//     for a live device).
func checkTokenReenrollment(tx kv.Tx, id, group string, now time.Time) (Device, error) {
	dev, err := getDevice(tx, id)
	if err != nil {
		return Device{}, err
	}
	switch {
	case dev.Status != DeviceActive:
		return Device{}, fmt.Errorf("%w: re-enrollment of %s: device is %s", ErrState, id, dev.Status)
	case len(dev.AKPublic) > 0 || dev.EKHash != "":
		return Device{}, fmt.Errorf("%w: re-enrollment of %s: a TPM-bound device re-enrolls by attestation, not with a token", ErrPolicy, id)
	case dev.Group != group:
		return Device{}, fmt.Errorf("%w: re-enrollment of %s: device is in group %q, the token is for %q", ErrPolicy, id, dev.Group, group)
	}
	prefix := indexPrefix(id)
	err = tx.Bucket(bucketCertsByDevice).Scan(prefix, func(k, _ []byte) error {
		c, err := getCert(tx, string(k[len(prefix):]))
		if err != nil {
			return fmt.Errorf("index of device %s: %w", id, err)
		}
		if c.Status == CertActive && now.Before(c.NotAfter) {
			return fmt.Errorf("%w: device %s holds a valid certificate (serial %s); it rotates with that one (device IDs are never reused)", ErrExists, id, c.Serial)
		}
		return nil
	})
	if err != nil {
		return Device{}, err
	}
	return dev, nil
}
