package store

import (
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// bucketSessions holds, on etcd, which broker last admitted each device:
// sessions/<device ID> -> the broker's owner name. It is not part of the
// bbolt schema: one file has one broker.
var bucketSessions = []byte("sessions")

// ClaimSession records that the broker named owner has just admitted the
// device, and returns the claim's etcd revision. Every broker of the
// cluster receives the claim on its change feed as a ChangeSession and
// ends its own older session of the device, so that a device holds one
// session in the whole cluster, as MQTT's takeover rule asks. On a bbolt
// registry, with its single broker, it records nothing and returns 0.
func (db *DB) ClaimSession(deviceID, owner string) (int64, error) {
	e, ok := db.kv.(*etcdKV)
	if !ok {
		return 0, nil
	}
	if e.closed.Load() {
		return 0, errEtcdClosed
	}
	if deviceID == "" || owner == "" {
		return 0, fmt.Errorf("%w: session claim needs a device and an owner", ErrInvalid)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	resp, err := e.cli.Put(ctx, e.bucketKey(bucketSessions, []byte(deviceID)), owner)
	if err != nil {
		return 0, fmt.Errorf("claim session of %s: %w", deviceID, mapEtcdErr(err))
	}
	return resp.Header.Revision, nil
}

// sessionChange is the feed event of a session claim seen by the watch.
func sessionChange(ev *clientv3.Event, deviceID string) Change {
	return Change{Kind: ChangeSession, DeviceID: deviceID, Owner: string(ev.Kv.Value),
		Revision: ev.Kv.ModRevision, Time: time.Now().UTC()}
}

// Clustered reports whether several brokers may share this registry (etcd).
func (db *DB) Clustered() bool {
	_, ok := db.kv.(*etcdKV)
	return ok
}
