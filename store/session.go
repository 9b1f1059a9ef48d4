package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// ClaimSession records that the broker named owner has just admitted the
// device, and returns the claim's etcd revision. Every broker of the
// cluster receives the claim on its change feed as a ChangeSession and
// ends its own older session of the device, so that a device holds one
// session in the whole cluster, as MQTT's takeover rule asks. On a bbolt
// registry, with its single broker, it records nothing and returns 0.
// Claims that arrive together share one etcd transaction.
func (db *DB) ClaimSession(ctx context.Context, deviceID, owner string) (int64, error) {
	c, ok := db.kv.(kv.SessionClaimer)
	if !ok {
		return 0, nil
	}
	if deviceID == "" || owner == "" {
		return 0, fmt.Errorf("%w: session claim needs a device and an owner", ErrInvalid)
	}
	rev, err := c.ClaimSession(ctx, deviceID, owner)
	if err != nil {
		return 0, fmt.Errorf("claim session of %s: %w", deviceID, err)
	}
	return rev, nil
}

// Clustered reports whether several brokers may share this registry: its
// backend records session claims (etcd).
func (db *DB) Clustered() bool {
	_, ok := db.kv.(kv.SessionClaimer)
	return ok
}
