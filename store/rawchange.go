package store

import "github.com/fleetgate/fleetgate/store/kv"

// publishRaw turns the raw changes a watched backend reports (etcd, from
// whichever host wrote them) into feed events and publishes them: status
// changes of devices and certificates, and session claims.
func (db *DB) publishRaw(raw []kv.RawChange) {
	var changes []Change
	for _, r := range raw {
		if ch, ok := db.change(r); ok {
			changes = append(changes, ch)
		}
	}
	db.feed.publish(changes)
}

// change returns the feed event of one raw change, if it is one: a session
// claim, or a device or certificate whose status changed (one that is new
// and active is not news).
func (db *DB) change(r kv.RawChange) (Change, bool) {
	if r.New == nil {
		return Change{}, false // a deletion changes no status
	}
	switch r.Bucket {
	case string(bucketSessions):
		return Change{Kind: ChangeSession, DeviceID: r.Key, Owner: string(r.New), Revision: r.Revision, Time: r.Time}, true
	case string(bucketDevices):
		var was, d Device
		if decode(r.New, &d) != nil {
			return Change{}, false
		}
		if r.Old != nil && decode(r.Old, &was) == nil && was.Status == d.Status {
			return Change{}, false
		}
		if r.Old == nil && d.Status == DeviceActive {
			return Change{}, false
		}
		return Change{Kind: ChangeDevice, DeviceID: d.ID, DeviceStatus: d.Status, Time: d.UpdatedAt}, true
	case string(bucketCerts):
		var was, c Certificate
		if decode(r.New, &c) != nil {
			return Change{}, false
		}
		if r.Old != nil && decode(r.Old, &was) == nil && was.Status == c.Status {
			return Change{}, false
		}
		if r.Old == nil && c.Status == CertActive {
			return Change{}, false
		}
		at := c.RevokedAt
		if at.IsZero() {
			at = db.clock()
		}
		return Change{Kind: ChangeCert, DeviceID: c.DeviceID, Serial: c.Serial, CertStatus: c.Status, Time: at}, true
	}
	return Change{}, false
}
