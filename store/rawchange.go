package store

import "github.com/fleetgate/fleetgate/store/kv"

// publishRaw turns the raw changes a watched backend reports (etcd, from
// whichever host wrote them) into feed events and publishes them: status
// changes of devices and certificates, session claims and barriers.
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
	case string(bucketBarriers):
		return Change{Kind: ChangeBarrier, Revision: r.Revision, Time: r.Time}, true
	case string(bucketSessions):
		return Change{Kind: ChangeSession, DeviceID: r.Key, Owner: string(r.New), Revision: r.Revision, Time: r.Time}, true
	case string(bucketDevices):
		d, ok := statusNews(r, func(d Device) DeviceStatus { return d.Status }, DeviceActive)
		if !ok {
			return aclNews(r)
		}
		return Change{Kind: ChangeDevice, DeviceID: d.ID, DeviceStatus: d.Status, Time: d.UpdatedAt}, ok
	case string(bucketGroups):
		return aclNews(r)
	case string(bucketCerts):
		c, ok := statusNews(r, func(c Certificate) CertStatus { return c.Status }, CertActive)
		at := c.RevokedAt
		if ok && at.IsZero() {
			at = db.clock()
		}
		return Change{Kind: ChangeCert, DeviceID: c.DeviceID, Serial: c.Serial, CertStatus: c.Status, Time: at}, ok
	}
	return Change{}, false
}

// statusNews decodes the record a raw change wrote and reports whether its
// status is news: it changed, or a new record starts in another status than
// initial. A record that does not decode is no news.
func statusNews[T any, S comparable](r kv.RawChange, status func(T) S, initial S) (T, bool) {
	var cur, was T
	if decode(r.New, &cur) != nil {
		return cur, false
	}
	if r.Old == nil {
		return cur, status(cur) != initial
	}
	if decode(r.Old, &was) == nil && status(was) == status(cur) {
		return cur, false
	}
	return cur, true
}
