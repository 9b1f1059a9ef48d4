package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/store"
)

// registerRegistryMetrics exports the registry's connection state, read
// from db.Health at every scrape.
func registerRegistryMetrics(reg prometheus.Registerer, db *store.DB) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge := func(name, help string, value func(store.Health) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return value(db.Health()) })
	}
	counter := func(name, help string, value func(store.Health) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return value(db.Health()) })
	}
	reg.MustRegister(
		gauge("fleetgate_registry_reachable",
			"1 while the registry answers (always 1 for the embedded bbolt file).",
			func(h store.Health) float64 { return b2f(h.Reachable) }),
		gauge("fleetgate_registry_past_grace",
			"1 while etcd has been silent for longer than registry_grace: every device is refused.",
			func(h store.Health) float64 { return b2f(h.PastGrace) }),
		gauge("fleetgate_registry_silence_seconds",
			"Seconds since the etcd watch last answered (0 for bbolt).",
			func(h store.Health) float64 {
				if h.LastContact.IsZero() {
					return 0
				}
				return time.Since(h.LastContact).Seconds()
			}),
		gauge("fleetgate_registry_full",
			"1 while the registry's storage is full: its latest write failed with no space left (disk full, or etcd's quota). The next write that fits clears it.",
			func(h store.Health) float64 { return b2f(h.Full) }),
		counter("fleetgate_registry_full_writes_total",
			"Registry writes refused for want of room; it keeps counting while fleetgate_registry_full flips back on writes that fit.",
			func(h store.Health) float64 { return float64(h.FullWrites) }),
		counter("fleetgate_registry_resyncs_total",
			"Full reloads of the local registry copy after the etcd watch fell behind compaction.",
			func(h store.Health) float64 { return float64(h.Resyncs) }),
		counter("fleetgate_registry_conflicts_total",
			"Registry write transactions run again because another host wrote what they read.",
			func(h store.Health) float64 { return float64(h.Conflicts) }),
	)
}
