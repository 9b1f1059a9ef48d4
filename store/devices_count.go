package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// DeviceCounts returns how many devices are in each state. It reads every
// device but decodes only its status, so 100,000 devices cost a fraction of
// what listing them does.
func (db *DB) DeviceCounts(ctx context.Context) (map[DeviceStatus]int, error) {
	counts := map[DeviceStatus]int{DeviceActive: 0, DeviceSuspended: 0, DeviceRevoked: 0}
	err := db.viewLocal(ctx, func(tx kv.Tx) error {
		clear(counts)
		counts[DeviceActive], counts[DeviceSuspended], counts[DeviceRevoked] = 0, 0, 0
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d struct {
				Status DeviceStatus `json:"status"`
			}
			if err := decode(v, &d); err != nil {
				return fmt.Errorf("device %q: %w", k, err)
			}
			counts[d.Status]++
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}
