package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// SetDeviceStatus moves a device to another state. Allowed: active to
// suspended ("device.suspend"), suspended to active ("device.resume"), and
// active or suspended to revoked ("device.revoke"). Leaving revoked returns
// ErrState. Asking for the status the device already has changes nothing,
// records nothing and returns the device, so scripts can repeat themselves.
//
// Revoking a device also revokes all its active and superseded certificates
// with the same reason in the same transaction, each recorded as
// "cert.revoke". After the commit a ChangeDevice event is published,
// followed by one ChangeCert event per certificate revoked. On etcd, whose
// transactions are bounded, a device with more certificates than fit is
// revoked together with the first of them and the rest follow in further
// transactions; brokers refuse every certificate of a revoked device
// anyway, and revoking it again completes a cascade that was cut short.
func (db *DB) SetDeviceStatus(ctx context.Context, id string, status DeviceStatus, reason string, by Actor) (Device, error) {
	switch status {
	case DeviceActive, DeviceSuspended, DeviceRevoked:
	default:
		return Device{}, fmt.Errorf("%w: unknown device status %q", ErrInvalid, status)
	}
	per := 0 // certificates revoked per transaction; 0: all
	if limit := db.txnLimit(); limit > 0 {
		per = max(1, (limit-12)/3) // a certificate reads one key and writes three
	}
	var out Device
	var revoked []string
	changed, more, last := false, false, ""
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		d, err := getDevice(tx, id)
		if err != nil {
			return nil, err
		}
		if d.Status == status {
			out, more = d, status == DeviceRevoked // finish a cascade cut short
			return nil, nil
		}
		action, err := transition(d.Status, status)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", id, err)
		}
		now := db.clock()
		from := d.Status
		d.Status, d.UpdatedAt, d.Reason = status, now, reason
		if status == DeviceActive {
			d.Reason = "" // the field says why a device is not active
		}
		if err := putJSON(tx.Bucket(bucketDevices), []byte(id), d); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("from=%s to=%s reason=%q", from, status, reason)
		if err := db.appendAudit(tx, action, id, detail, by); err != nil {
			return nil, err
		}
		changes := []Change{{Kind: ChangeDevice, DeviceID: id, DeviceStatus: status, Time: now}}
		if status == DeviceRevoked {
			revoked, last, err = db.revokeDeviceCerts(tx, id, reason, now, by, per, "")
			if err != nil {
				return nil, err
			}
			more = last != ""
			for _, serial := range revoked {
				changes = append(changes, Change{Kind: ChangeCert, DeviceID: id, Serial: serial, CertStatus: CertRevoked, Time: now})
			}
		}
		out, changed = d, true
		return changes, nil
	})
	for more && err == nil {
		var part []string
		from := last // a retried transaction starts from the same place
		err = db.update(ctx, func(tx kv.Tx) ([]Change, error) {
			d, err := getDevice(tx, id)
			if err != nil {
				return nil, err
			}
			if d.Status != DeviceRevoked {
				more = false
				return nil, nil
			}
			now := db.clock()
			part, last, err = db.revokeDeviceCerts(tx, id, d.Reason, now, by, per, from)
			more = last != ""
			var changes []Change
			for _, serial := range part {
				changes = append(changes, Change{Kind: ChangeCert, DeviceID: id, Serial: serial, CertStatus: CertRevoked, Time: now})
			}
			return changes, err
		})
		revoked = append(revoked, part...)
	}
	if err != nil {
		return Device{}, err
	}
	if changed {
		db.log.Info("device status set", "device", id, "status", status, "reason", reason, "certs_revoked", len(revoked), "actor", by.Name)
	}
	return out, nil
}

// transition returns the audit action for a status change, or ErrState.
func transition(from, to DeviceStatus) (string, error) {
	switch {
	case from == DeviceActive && to == DeviceSuspended:
		return "device.suspend", nil
	case from == DeviceSuspended && to == DeviceActive:
		return "device.resume", nil
	case (from == DeviceActive || from == DeviceSuspended) && to == DeviceRevoked:
		return "device.revoke", nil
	}
	return "", fmt.Errorf("%w: %s to %s", ErrState, from, to)
}

// revokeDeviceCerts revokes the active and superseded certificates of a
// device inside tx whose index keys follow after (all when empty), looking
// at no more than limit of them (0: all). It returns the serials revoked
// and, when it stopped at the limit, the last one it looked at.
func (db *DB) revokeDeviceCerts(tx kv.Tx, deviceID, reason string, now time.Time, by Actor, limit int, after string) (serials []string, last string, err error) {
	prefix := indexPrefix(deviceID)
	// Collect first: the writes below must not run under the scan.
	var all []string
	err = tx.Bucket(bucketCertsByDevice).Scan(prefix, func(k, _ []byte) error {
		if serial := string(k[len(prefix):]); after == "" || serial > after {
			all = append(all, serial)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	for i, serial := range all {
		if limit > 0 && i == limit {
			return serials, all[i-1], nil
		}
		cert, err := getCert(tx, serial)
		if err != nil {
			return nil, "", fmt.Errorf("index of device %s: %w", deviceID, err)
		}
		if cert.Status == CertRevoked {
			continue
		}
		cert.Status, cert.RevokedAt, cert.Reason = CertRevoked, now, reason
		if err := putCert(tx, cert); err != nil {
			return nil, "", err
		}
		detail := fmt.Sprintf("device=%s cascade=device.revoke reason=%q", deviceID, reason)
		if err := db.appendAudit(tx, "cert.revoke", serial, detail, by); err != nil {
			return nil, "", err
		}
		serials = append(serials, serial)
	}
	return serials, "", nil
}
