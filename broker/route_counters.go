package broker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/bus"
)

// routeCounters are the fleetgate_bus_messages_total series that every
// routed message touches, looked up once: WithLabelValues hashes its
// labels and takes the vector's lock on each call, once per message and
// per broker on the routing path.
type routeCounters struct {
	sent, stored, delivered, duplicate prometheus.Counter
}

func newRouteCounters(m *Metrics) routeCounters {
	return routeCounters{
		sent:      m.bus.WithLabelValues("out", "sent"),
		stored:    m.bus.WithLabelValues("out", "stored"),
		delivered: m.bus.WithLabelValues("in", "delivered"),
		duplicate: m.bus.WithLabelValues("in", "duplicate"),
	}
}

// noShare is the share of a plain delivery, one pointer for all of them:
// router.share holds a pointer, and a fresh one per message would be an
// allocation per message.
var noShare = new(string)

// sharePointer returns what router.share holds while a bus message for
// filter is delivered: the filter for a shared one, else noShare.
func sharePointer(filter string) *string {
	if _, _, ok := bus.SplitShare(filter); ok {
		return &filter
	}
	return noShare
}
