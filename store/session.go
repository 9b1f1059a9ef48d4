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
	e.claimsOnce.Do(func() {
		e.claimQueue = make(chan claimReq)
		e.claimStop = make(chan struct{})
		go e.runClaims()
	})
	req := claimReq{deviceID: deviceID, owner: owner, done: make(chan claimResult, 1)}
	select {
	case e.claimQueue <- req:
	case <-e.claimStop:
		return 0, errEtcdClosed
	}
	r := <-req.done
	if r.err != nil {
		return 0, fmt.Errorf("claim session of %s: %w", deviceID, r.err)
	}
	return r.rev, nil
}

type claimReq struct {
	deviceID, owner string
	done            chan claimResult // buffered
}

type claimResult struct {
	rev int64
	err error
}

// runClaims writes session claims, those that arrive together in one etcd
// transaction: a reconnect storm across brokers then costs a few commits,
// not one per device.
func (e *etcdKV) runClaims() {
	for {
		var first claimReq
		select {
		case first = <-e.claimQueue:
		case <-e.claimStop:
			return
		}
		batch := []claimReq{first}
	collect:
		for len(batch) < e.maxOps-1 {
			select {
			case r := <-e.claimQueue:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		// One put per device (etcd refuses a key twice in a transaction):
		// the last claim in the batch is the one that stands.
		last := make(map[string]string, len(batch))
		var keys []string
		for _, r := range batch {
			if _, seen := last[r.deviceID]; !seen {
				keys = append(keys, r.deviceID)
			}
			last[r.deviceID] = r.owner
		}
		ops := make([]clientv3.Op, 0, len(keys))
		for _, id := range keys {
			ops = append(ops, clientv3.OpPut(e.bucketKey(bucketSessions, []byte(id)), last[id]))
		}
		ctx, cancel := e.ctx()
		resp, err := e.cli.Txn(ctx).Then(ops...).Commit()
		cancel()
		var res claimResult
		if err != nil {
			res.err = mapEtcdErr(err)
		} else {
			res.rev = resp.Header.Revision
		}
		for _, r := range batch {
			r.done <- res
		}
	}
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
