package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the broker's Prometheus metrics. Create them with NewMetrics
// on the registry that serves /metrics and pass them in Config.Metrics; a
// broker without them keeps private, unexported ones.
type Metrics struct {
	connects       prometheus.Counter
	refusals       *prometheus.CounterVec
	handshakes     *prometheus.HistogramVec
	handshakeFails *prometheus.CounterVec
	drops          *prometheus.CounterVec
	dropDelay      prometheus.Histogram
	evictions      prometheus.Counter
	bus            *prometheus.CounterVec
	busUp          prometheus.Gauge
	busStore       prometheus.Histogram
	*policyMetrics // policy_live.go, limits.go

	reg prometheus.Registerer // for the gauges bound to a started broker
}

// NewMetrics creates the broker metrics and registers them on reg (nil: a
// private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetgate_broker_connects_total", Help: "Devices admitted at CONNECT.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_broker_connect_refusals_total", Help: "CONNECTs refused, by reason.",
		}, []string{"reason"}),
		handshakes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgate_broker_tls_handshake_seconds",
			Help:    "Time from accept to the end of the TLS handshake, by result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}, []string{"result"}),
		handshakeFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_broker_tls_handshake_failures_total", Help: "TLS handshakes that failed, by reason.",
		}, []string{"reason"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_broker_sessions_dropped_total", Help: "Live sessions dropped for a credential reason (revoked, suspended, expired, superseded).",
		}, []string{"reason"}),
		dropDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetgate_broker_revocation_disconnect_seconds",
			Help:    "Delay from a registry change (or certificate expiry) to the session drop.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20), // 0.1 ms .. 52 s
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetgate_broker_pending_evictions_total", Help: "Unauthenticated sockets evicted because max_pending was reached.",
		}),
		bus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_bus_messages_total", Help: "Messages to (out) and from (in) other brokers over the bus, by result (sent, stored, store_failed, too_large, error, bus_down, retained, retained_error; delivered, duplicate, replayed, replay_failed, retained).",
		}, []string{"direction", "result"}),
		busUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetgate_bus_connected", Help: "1 while the broker reaches the bus (NATS), 0 while routing to other brokers is paused.",
		}),
		busStore: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetgate_bus_store_seconds",
			Help:    "Time a QoS 1 PUBLISH waited for the bus to store it before PUBACK (or its refusal); past 1 s the device's other packets are read meanwhile.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms .. 16 s
		}),
		reg: reg,
	}
	reg.MustRegister(m.connects, m.refusals, m.handshakes, m.handshakeFails, m.drops, m.dropDelay, m.evictions, m.bus)
	m.policyMetrics = newPolicyMetrics(reg)
	return m
}

// bindBus registers fleetgate_bus_connected and
// fleetgate_bus_store_seconds, for a broker joined to the
// bus only: a broker on its own has no bus to be cut off from.
func (m *Metrics) bindBus() {
	_ = m.reg.Register(m.busUp)
	_ = m.reg.Register(m.busStore)
}

// bind registers the gauges that read a started broker's state.
func (m *Metrics) bind(connected, pending func() float64) {
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fleetgate_broker_connected_devices", Help: "Devices with a live MQTT session.",
	}, connected))
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fleetgate_broker_pending_connections", Help: "Accepted sockets that have not authenticated yet.",
	}, pending))
}

func (m *Metrics) handshake(start time.Time, failReason string) {
	result := "ok"
	if failReason != "" {
		result = "error"
		m.handshakeFails.WithLabelValues(failReason).Inc()
	}
	m.handshakes.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

func (m *Metrics) dropped(reason string, since time.Time) {
	m.drops.WithLabelValues(reason).Inc()
	if !since.IsZero() {
		m.dropDelay.Observe(time.Since(since).Seconds())
	}
}
