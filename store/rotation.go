package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Rotation keeps the old certificate active until the device has shown that
// it holds the new one, by connecting with it: a device whose reply was lost
// on the way still has a certificate that works. Certificate.Supersedes
// links each rotated certificate to its predecessor; the rotations bucket
// maps (old serial, new key) to the new serial, so a retried rotation finds
// what was already issued instead of issuing twice.

// FindRotation returns the certificate already issued to replace the
// certificate with serial supersedes for the public key with the given
// hash (hex SHA-256 of its SubjectPublicKeyInfo DER), or ErrNotFound.
func (db *DB) FindRotation(ctx context.Context, supersedes, keyHash string) (Certificate, error) {
	var c Certificate
	err := db.view(ctx, func(tx kv.Tx) error {
		serial := tx.Bucket(bucketRotations).Get(rotationKey(supersedes, keyHash))
		if serial == nil {
			return fmt.Errorf("%w: no rotation of certificate %q for key %q", ErrNotFound, supersedes, keyHash)
		}
		var err error
		c, err = getCert(tx, string(serial))
		if err != nil {
			return fmt.Errorf("rotation index: %w", err)
		}
		return nil
	})
	return c, err
}

// MarkSuperseded is called when a device first connects with currentSerial.
// Every other active certificate of the device that currentSerial
// supersedes, directly or through a chain of rotations, becomes superseded,
// and so does every other certificate issued as a rotation of one of those
// predecessors (a retry with another key after a lost reply),
// each recorded as "cert.supersede" and, after the commit, published as a
// ChangeCert event so that a broker drops sessions still using it. It
// returns how many certificates changed; repeating it changes nothing. The
// current certificate must belong to the device (ErrNotFound) and be active
// (ErrState): a revoked certificate must not retire its predecessors.
func (db *DB) MarkSuperseded(ctx context.Context, deviceID, currentSerial string) (int, error) {
	var marked []string
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		marked = nil // a retried fn starts over
		cur, err := getCert(tx, currentSerial)
		if err != nil {
			return nil, err
		}
		if cur.DeviceID != deviceID {
			return nil, fmt.Errorf("%w: certificate serial %s was issued to device %q, not %q", ErrNotFound, currentSerial, cur.DeviceID, deviceID)
		}
		if cur.Status != CertActive {
			return nil, fmt.Errorf("%w: certificate %s is %s", ErrState, currentSerial, cur.Status)
		}
		now := db.clock()
		var changes []Change
		supersede := func(old Certificate) error {
			if old.Status != CertActive || old.DeviceID != deviceID || old.Serial == currentSerial {
				return nil
			}
			old.Status = CertSuperseded
			if err := putCert(tx, old); err != nil {
				return err
			}
			detail := fmt.Sprintf("device=%s by=%s", deviceID, currentSerial)
			if err := db.appendAudit(tx, "cert.supersede", old.Serial, detail, Actor{Name: "system"}); err != nil {
				return err
			}
			changes = append(changes, Change{Kind: ChangeCert, DeviceID: deviceID, Serial: old.Serial, CertStatus: CertSuperseded, Time: now})
			marked = append(marked, old.Serial)
			return nil
		}
		// The chain of predecessors, newest first.
		var chain []string
		seen := map[string]bool{currentSerial: true}
		for serial := cur.Supersedes; serial != "" && !seen[serial]; {
			seen[serial] = true
			old, err := getCert(tx, serial)
			if err != nil {
				return nil, fmt.Errorf("rotation chain of %s: %w", currentSerial, err)
			}
			if err := supersede(old); err != nil {
				return nil, err
			}
			chain = append(chain, serial)
			serial = old.Supersedes
		}
		// Other rotations of the same predecessors: a retry with a new key
		// after a lost reply leaves a certificate the device no longer uses.
		for _, old := range chain {
			prefix := []byte(old + "/")
			var siblings []string
			err := tx.Bucket(bucketRotations).Scan(prefix, func(_, v []byte) error {
				siblings = append(siblings, string(v))
				return nil
			})
			if err != nil {
				return nil, err
			}
			for _, serial := range siblings {
				sib, err := getCert(tx, serial)
				if err != nil {
					return nil, fmt.Errorf("rotations of %s: %w", old, err)
				}
				if err := supersede(sib); err != nil {
					return nil, err
				}
			}
		}
		return changes, nil
	})
	if err != nil {
		return 0, err
	}
	if len(marked) > 0 {
		db.log.Info("certificates superseded", "device", deviceID, "current", currentSerial, "serials", marked)
	}
	return len(marked), nil
}

// checkSupersedes checks a rotation before its certificate is recorded:
// the certificate it replaces must exist and belong to the device
// (ErrNotFound otherwise) and be active (ErrState), and no certificate may
// have been issued yet for the same old serial and key (ErrExists; the
// caller should have asked FindRotation). An empty old serial passes.
func checkSupersedes(tx kv.Tx, deviceID, old, keyHash string) error {
	if old == "" {
		return nil
	}
	c, err := getCert(tx, old)
	if err != nil {
		return fmt.Errorf("superseded certificate: %w", err)
	}
	if c.DeviceID != deviceID {
		return fmt.Errorf("%w: superseded certificate %s was issued to device %q, not %q", ErrNotFound, old, c.DeviceID, deviceID)
	}
	if c.Status != CertActive {
		return fmt.Errorf("%w: superseded certificate %s is %s", ErrState, old, c.Status)
	}
	if keyHash != "" {
		if serial := tx.Bucket(bucketRotations).Get(rotationKey(old, keyHash)); serial != nil {
			return fmt.Errorf("%w: certificate %s was already rotated to %s for this key", ErrExists, old, serial)
		}
	}
	return nil
}
