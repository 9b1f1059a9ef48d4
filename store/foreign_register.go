package store

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// RegisterForeign registers, on its first connect, a device whose
// certificate leaf was issued by the foreign CA f, under the ID id, and
// binds it to that certificate (recorded active, AttestForeign, with its
// DER), with the audit event "device.register_foreign", in one
// transaction. The caller has verified the chain to f. Refusals:
//   - ErrPolicy: id belongs to a device of another group, or to a device
//     of f's group bound to another certificate;
//   - ErrNotFound: f admits only listed certificates and leaf's
//     fingerprint and serial are not on its allow-list;
//   - ErrExists: the serial is already recorded for another device.
//
// A device already registered with exactly this certificate is returned
// unchanged (a second broker raced this one).
func (db *DB) RegisterForeign(ctx context.Context, f ForeignCA, id string, leaf *x509.Certificate, by Actor) (Device, Certificate, error) {
	c := Certificate{
		Serial:      identity.SerialHex(leaf),
		Fingerprint: identity.Fingerprint(leaf),
		DeviceID:    id,
		NotBefore:   leaf.NotBefore,
		NotAfter:    leaf.NotAfter,
		Status:      CertActive,
		Attestation: AttestForeign,
		IssuedAt:    db.clock(),
		DER:         leaf.Raw,
	}
	d := Device{ID: id, Group: f.Group, Status: DeviceActive}
	if err := validateNewDevice(&d); err != nil {
		return Device{}, Certificate{}, err
	}
	if err := validateCert(&c); err != nil {
		return Device{}, Certificate{}, err
	}
	now := db.clock()
	d.CreatedAt, d.UpdatedAt = now, now
	var out Device
	var outCert Certificate
	created := false
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		old, err := getDevice(tx, id)
		if err == nil {
			return nil, foreignExisting(tx, f, old, c, &out, &outCert)
		}
		if !f.FirstConnect && !slices.Contains(f.Allowed, c.Fingerprint) && !slices.Contains(f.Allowed, c.Serial) {
			return nil, fmt.Errorf("%w: certificate %s (fingerprint %s) of foreign CA %s is not on its allow-list", ErrNotFound, c.Serial, c.Fingerprint, f.Name)
		}
		if err := checkNewCert(tx, c.Serial); err != nil {
			return nil, err
		}
		if err := putJSON(tx.Bucket(bucketDevices), []byte(id), d); err != nil {
			return nil, err
		}
		if err := insertCert(tx, c); err != nil {
			return nil, err
		}
		created, out, outCert = true, d, c
		detail := fmt.Sprintf("group=%s foreign_ca=%s serial=%s fingerprint=%s not_after=%s",
			f.Group, f.Name, c.Serial, c.Fingerprint, c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
		return nil, db.appendAudit(tx, "device.register_foreign", id, detail, by)
	})
	if err != nil {
		return Device{}, Certificate{}, err
	}
	if created {
		db.foreignDeviceRegistered(out, outCert, f, by)
	}
	return out, outCert, nil
}

// foreignExisting judges a foreign certificate whose derived ID is already
// registered: the same device and certificate is no refusal; anything
// else is.
func foreignExisting(tx kv.Tx, f ForeignCA, d Device, c Certificate, out *Device, outCert *Certificate) error {
	if d.Group != f.Group {
		return fmt.Errorf("%w: device %s belongs to group %q; foreign CA %s registers devices of %q", ErrPolicy, d.ID, d.Group, f.Name, f.Group)
	}
	prev, err := getCert(tx, c.Serial)
	if err != nil || prev.DeviceID != d.ID || prev.Fingerprint != c.Fingerprint {
		return fmt.Errorf("%w: device %s is bound to another certificate", ErrPolicy, d.ID)
	}
	*out, *outCert = d, prev
	return nil
}

// foreignDeviceRegistered runs after a device of a foreign CA was
// registered on its first connect (the audit event is already written).
// The broker emits the lifecycle event for it (broker/foreign_admit.go).
func (db *DB) foreignDeviceRegistered(d Device, c Certificate, f ForeignCA, by Actor) {
	db.log.Info("foreign device registered", "device", d.ID, "group", d.Group, "foreign_ca", f.Name,
		"serial", c.Serial, "fingerprint", c.Fingerprint, "actor", by.Name)
}
