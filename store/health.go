package store

import "github.com/fleetgate/fleetgate/store/kv"

// Health is the registry's connection state, for metrics and readiness.
type Health = kv.Health

// Health reports the registry's connection state. A bbolt file is always
// reachable.
func (db *DB) Health() Health {
	if h, ok := db.kv.(kv.HealthReporter); ok {
		return h.Health()
	}
	return Health{Backend: "bolt", Reachable: true}
}
