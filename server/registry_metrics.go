package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/store"
)

// registerRegistryMetrics exports the registry's connection state.
func registerRegistryMetrics(reg prometheus.Registerer, db *store.DB) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetgate_registry_reachable",
			Help: "1 while the registry answers (always 1 for the embedded bbolt file).",
		}, func() float64 { return b2f(db.Health().Reachable) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetgate_registry_past_grace",
			Help: "1 while etcd has been silent for longer than registry_grace: every device is refused.",
		}, func() float64 { return b2f(db.Health().PastGrace) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetgate_registry_silence_seconds",
			Help: "Seconds since the etcd watch last answered (0 for bbolt).",
		}, func() float64 {
			h := db.Health()
			if h.LastContact.IsZero() {
				return 0
			}
			return time.Since(h.LastContact).Seconds()
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetgate_registry_resyncs_total",
			Help: "Full reloads of the local registry copy after the etcd watch fell behind compaction.",
		}, func() float64 { return float64(db.Health().Resyncs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetgate_registry_conflicts_total",
			Help: "Registry write transactions run again because another host wrote what they read.",
		}, func() float64 { return float64(db.Health().Conflicts) }),
	)
}
