package broker

import "github.com/prometheus/client_golang/prometheus"

// policyMetrics count live ACL changes and the per-device limits.
type policyMetrics struct {
	aclRejudged prometheus.Counter
	subsRevoked prometheus.Counter
	limited     *prometheus.CounterVec
}

// newPolicyMetrics creates the policy metrics and registers them on reg.
func newPolicyMetrics(reg prometheus.Registerer) *policyMetrics {
	m := &policyMetrics{
		aclRejudged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetgate_broker_acl_rejudged_total", Help: "Sessions judged again because their device's grants or group templates changed.",
		}),
		subsRevoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetgate_broker_subscriptions_revoked_total", Help: "Subscriptions removed from live sessions because an ACL change no longer allows them.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_broker_limit_exceeded_total", Help: "Limits exceeded, by limit (publish_rate, byte_rate, subscriptions, handshake_rate) and action (disconnect, refuse).",
		}, []string{"limit", "action"}),
	}
	reg.MustRegister(m.aclRejudged, m.subsRevoked, m.limited)
	return m
}
