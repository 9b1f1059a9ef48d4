package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// subQuota holds the filters of the SUBSCRIBE being processed that are over
// the session's MaxSubscriptions: OnSubscribe fills it, OnACLCheck refuses
// them, OnSubscribed rewrites their SUBACK codes and clears it. All three
// run on the client's own goroutine; the mutex is for deliveries, which
// ask OnACLCheck from other goroutines.
type subQuota struct {
	mu   sync.Mutex
	over map[string]bool
}

func (q *subQuota) set(over map[string]bool) {
	q.mu.Lock()
	q.over = over
	q.mu.Unlock()
}

func (q *subQuota) denies(filter string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.over[filter]
}

// OnSubscribe marks the new filters of a SUBSCRIBE that would take the
// session past MaxSubscriptions.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	s := h.sessions.get(cl)
	if s == nil || s.limiter.Load().maxSubs == 0 {
		return pk
	}
	maxSubs := s.limiter.Load().maxSubs
	n := cl.State.Subscriptions.Len()
	var over map[string]bool
	for _, sub := range pk.Filters {
		if _, exists := cl.State.Subscriptions.Get(sub.Filter); exists {
			continue
		}
		if n >= maxSubs {
			if over == nil {
				over = make(map[string]bool)
			}
			over[sub.Filter] = true
			continue
		}
		n++
	}
	s.quota.set(over)
	return pk
}

// OnSubscribed answers the filters over quota with 0x97 "quota exceeded"
// (MQTT 3.1.1: 0x80 failure) instead of "not authorized": mochi's SUBACK
// shares the reason code slice it passes here.
func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	s := h.sessions.get(cl)
	if s == nil {
		return
	}
	code := packets.ErrQuotaExceeded.Code
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrUnspecifiedError.Code
	}
	for i, sub := range pk.Filters {
		if i < len(codes) && s.quota.denies(sub.Filter) {
			codes[i] = code
			h.metrics.limited.WithLabelValues(limitSubscriptions, "refuse").Inc()
			h.log.Info("limit exceeded; subscription refused", "device", s.deviceID, "client_id", cl.ID, "limit", limitSubscriptions, "filter", sub.Filter, "reason", packets.ErrQuotaExceeded.Reason)
		}
	}
	s.quota.set(nil)
}
