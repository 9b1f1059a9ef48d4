package store

import (
	"context"
	"fmt"
	"maps"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// SetDeviceProfile replaces the group and metadata of a registered device
// and records "device.profile". Both feed its ACL templates ({group},
// {meta.KEY}) and its group its limits, so brokers re-judge the device's
// sessions at once (ChangeACL) as for a change of its grants. A group name
// must pass identity.ValidateID ("" for none; the group need not have a
// record, as at registration); an unknown device gives ErrNotFound.
// Setting them exactly as stored changes and records nothing.
func (db *DB) SetDeviceProfile(ctx context.Context, id, group string, metadata map[string]string, by Actor) (Device, error) {
	if group != "" {
		if err := identity.ValidateID(group); err != nil {
			return Device{}, fmt.Errorf("%w: device %s: group name: %w", ErrInvalid, id, err)
		}
	}
	if len(metadata) == 0 {
		metadata = nil
	}
	var out Device
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		d, err := getDevice(tx, id)
		if err != nil {
			return nil, err
		}
		if d.Group == group && maps.Equal(d.Metadata, metadata) {
			out = d
			return nil, nil
		}
		d.Group, d.Metadata, d.UpdatedAt = group, maps.Clone(metadata), db.clock()
		if err := putJSON(tx.Bucket(bucketDevices), []byte(id), d); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("group=%q metadata=%v", group, metadata)
		if err := db.appendAudit(tx, "device.profile", id, detail, by); err != nil {
			return nil, err
		}
		out = d
		return []Change{{Kind: ChangeACL, DeviceID: id, Time: d.UpdatedAt}}, nil
	})
	if err != nil {
		return Device{}, err
	}
	db.log.Info("device profile set", "device", id, "group", group, "metadata", metadata, "actor", by.Name)
	return out, nil
}
