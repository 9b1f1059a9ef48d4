package store

import "github.com/fleetgate/fleetgate/store/kv"

// Health is the registry's connection state, for metrics and readiness.
type Health = kv.Health

// Health reports the registry's connection state, and whether its storage
// was found full. A bbolt file is always reachable.
func (db *DB) Health() Health {
	h := Health{Backend: "bolt", Reachable: true}
	if r, ok := db.kv.(kv.HealthReporter); ok {
		h = r.Health()
	}
	db.full.fill(&h)
	return h
}
