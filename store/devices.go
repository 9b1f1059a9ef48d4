package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// DeviceFilter selects devices. The zero value selects all of them.
type DeviceFilter struct {
	Status DeviceStatus // only devices in this state
	Group  string       // only devices of this group
}

// CreateDevice registers a new device and records "device.register" in the
// audit log. The ID must pass identity.ValidateID and must never have been
// used before, even by a device since revoked: an ID names one physical
// device for ever. Status may be empty (active), active or suspended; ACL
// grants must be valid MQTT topic filters. An EKHash, when given, must be
// 64 lower-case hex digits and not belong to another device (ErrExists);
// DeviceByEK finds the device by it. CreatedAt and UpdatedAt are set to the
// current time. It returns the device as stored.
func (db *DB) CreateDevice(ctx context.Context, d Device, by Actor) (Device, error) {
	if err := validateNewDevice(&d); err != nil {
		return Device{}, err
	}
	now := db.clock()
	d.CreatedAt, d.UpdatedAt = now, now

	var out Device
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		b := tx.Bucket(bucketDevices)
		if b.Get([]byte(d.ID)) != nil {
			return nil, fmt.Errorf("%w: device %s (device IDs are never reused)", ErrExists, d.ID)
		}
		if err := checkEKFree(tx, d.ID, d.EKHash); err != nil {
			return nil, err
		}
		if err := putJSON(b, []byte(d.ID), d); err != nil {
			return nil, err
		}
		if err := putEKOwner(tx, d.ID, d.EKHash); err != nil {
			return nil, err
		}
		// Read back what was written so the caller holds no aliases of its
		// own maps and slices and sees times as the file keeps them.
		if _, err := getJSON(b, []byte(d.ID), &out); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("status=%s group=%q", d.Status, d.Group)
		return nil, db.appendAudit(tx, "device.register", d.ID, detail, by)
	})
	if err != nil {
		return Device{}, err
	}
	db.log.Info("device registered", "device", d.ID, "status", d.Status, "group", d.Group, "actor", by.Name)
	return out, nil
}

// validateNewDevice checks a device about to be registered, as
// CreateDevice documents, and fills in the default status.
func validateNewDevice(d *Device) error {
	if err := identity.ValidateID(d.ID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch d.Status {
	case "":
		d.Status = DeviceActive
	case DeviceActive, DeviceSuspended:
	default:
		return fmt.Errorf("%w: device %s: status %q on create (want %q or %q)", ErrInvalid, d.ID, d.Status, DeviceActive, DeviceSuspended)
	}
	if err := validateFilters("publish", d.Publish); err != nil {
		return fmt.Errorf("device %s: %w", d.ID, err)
	}
	if err := validateFilters("subscribe", d.Subscribe); err != nil {
		return fmt.Errorf("device %s: %w", d.ID, err)
	}
	return validateEKHash(d.ID, d.EKHash)
}

// Device returns the device with the given ID, or ErrNotFound.
func (db *DB) Device(ctx context.Context, id string) (Device, error) {
	var d Device
	err := db.viewLocal(ctx, func(tx kv.Tx) error {
		var err error
		d, err = getDevice(tx, id)
		return err
	})
	return d, err
}

// Devices returns the devices that match f, sorted by ID.
func (db *DB) Devices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	switch f.Status {
	case "", DeviceActive, DeviceSuspended, DeviceRevoked:
	default:
		return nil, fmt.Errorf("%w: unknown device status %q in filter", ErrInvalid, f.Status)
	}
	out := []Device{}
	err := db.view(ctx, func(tx kv.Tx) error {
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if err := decode(v, &d); err != nil {
				return fmt.Errorf("device %q: %w", k, err)
			}
			if (f.Status == "" || d.Status == f.Status) && (f.Group == "" || d.Group == f.Group) {
				out = append(out, d)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getDevice reads one device inside tx.
func getDevice(tx kv.Tx, id string) (Device, error) {
	var d Device
	ok, err := getJSON(tx.Bucket(bucketDevices), []byte(id), &d)
	if err != nil {
		return Device{}, err
	}
	if !ok {
		return Device{}, fmt.Errorf("%w: device %q", ErrNotFound, id)
	}
	return d, nil
}
