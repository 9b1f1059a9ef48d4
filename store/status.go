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
	err := db.updateEssential(ctx, func(tx kv.Tx) ([]Change, error) {
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
			revoked, last, err = db.revokeDeviceCerts(tx, id, reason, now, db.cascadeAudit(tx, id, reason, by), per, "")
			if err != nil {
				return nil, err
			}
			more = last != ""
			changes = append(changes, certChanges(id, revoked, now)...)
		}
		out, changed = d, true
		return changes, nil
	})
	if more && err == nil {
		var rest []string
		rest, err = db.finishCascade(ctx, id, by, per, last, true)
		revoked = append(revoked, rest...)
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

// finishCascade revokes, in transactions of at most per certificates, the
// certificates of a revoked device whose index keys follow last: the rest
// of a cascade that one transaction could not hold. It stops when the
// device is not revoked. Each certificate gets its own "cert.revoke" event
// when audited is set (a bulk revocation records one event for all). It
// returns the serials it revoked.
func (db *DB) finishCascade(ctx context.Context, id string, by Actor, per int, last string, audited bool) ([]string, error) {
	var revoked []string
	for more := true; more; {
		var part []string
		from := last // a retried transaction starts from the same place
		err := db.updateEssential(ctx, func(tx kv.Tx) ([]Change, error) {
			d, err := getDevice(tx, id)
			if err != nil {
				return nil, err
			}
			if d.Status != DeviceRevoked {
				more = false
				return nil, nil
			}
			now := db.clock()
			var audit func(string) error
			if audited {
				audit = db.cascadeAudit(tx, id, d.Reason, by)
			}
			part, last, err = db.revokeDeviceCerts(tx, id, d.Reason, now, audit, per, from)
			more = last != ""
			return certChanges(id, part, now), err
		})
		if err != nil {
			return revoked, err
		}
		revoked = append(revoked, part...)
	}
	return revoked, nil
}

// certChanges are the feed events of certificates of one device revoked at now.
func certChanges(deviceID string, serials []string, now time.Time) []Change {
	var changes []Change
	for _, serial := range serials {
		changes = append(changes, Change{Kind: ChangeCert, DeviceID: deviceID, Serial: serial, CertStatus: CertRevoked, Time: now})
	}
	return changes
}

// cascadeAudit returns the audit of one certificate revoked because its
// device was: a "cert.revoke" event each.
func (db *DB) cascadeAudit(tx kv.Tx, deviceID, reason string, by Actor) func(serial string) error {
	return func(serial string) error {
		detail := fmt.Sprintf("device=%s cascade=device.revoke reason=%q", deviceID, reason)
		return db.appendAudit(tx, "cert.revoke", serial, detail, by)
	}
}

// revokeDeviceCerts revokes the active and superseded certificates of a
// device inside tx whose index keys follow after (all when empty), looking
// at no more than limit of them (0: all), and calls audit, when not nil,
// for each. It returns the serials revoked and, when it stopped at the
// limit, the last one it looked at.
func (db *DB) revokeDeviceCerts(tx kv.Tx, deviceID, reason string, now time.Time, audit func(serial string) error, limit int, after string) (serials []string, last string, err error) {
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
		_, revoked, err := revokeCertRecord(tx, serial, reason, now)
		if err != nil {
			return nil, "", fmt.Errorf("index of device %s: %w", deviceID, err)
		}
		if !revoked {
			continue
		}
		if audit != nil {
			if err := audit(serial); err != nil {
				return nil, "", err
			}
		}
		serials = append(serials, serial)
	}
	return serials, "", nil
}

// revokeCertRecord marks one certificate revoked inside tx, reading and
// writing its record only (the DER never changes). It returns the record
// without DER and reports false for a certificate that was revoked already.
func revokeCertRecord(tx kv.Tx, serial, reason string, now time.Time) (Certificate, bool, error) {
	var c Certificate
	found, err := getJSON(tx.Bucket(bucketCerts), []byte(serial), &c)
	if err != nil {
		return c, false, err
	}
	if !found {
		return c, false, fmt.Errorf("%w: certificate serial %q", ErrNotFound, serial)
	}
	if c.Status == CertRevoked {
		return c, false, nil
	}
	c.Status, c.RevokedAt, c.Reason = CertRevoked, now, reason
	return c, true, putCert(tx, c)
}
