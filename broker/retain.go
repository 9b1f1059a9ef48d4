package broker

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// retainedTimer expires one retained message.
type retainedTimer struct {
	created int64 // the message's Created, to know it is still the one retained
	t       *time.Timer
}

// OnRetainMessage arms the expiry of a message mochi has just retained
// (r 1), or forgets the topic's timer when its retained message was
// cleared (r -1), in place of mochi's once-a-second copy of every
// retained message.
func (w *sweeper) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, r int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old := w.retained[pk.TopicName]; old != nil {
		old.t.Stop()
		delete(w.retained, pk.TopicName)
	}
	if r != 1 {
		return
	}
	at, ok := w.retainedExpiry(pk)
	if !ok {
		return
	}
	e := &retainedTimer{created: pk.Created}
	topic := pk.TopicName
	e.t = time.AfterFunc(time.Until(time.Unix(at, 0)), func() { w.expireRetained(topic, e) })
	w.retained[topic] = e
}

// retainedExpiry is when mochi's clearExpiredRetainedMessages would drop
// pk (Unix seconds): past its own MQTT 5 expiry, or older than the
// maximum message expiry interval; false when neither applies.
func (w *sweeper) retainedExpiry(pk packets.Packet) (int64, bool) {
	var at int64
	ok := false
	if pk.ProtocolVersion == 5 && pk.Expiry > 0 {
		at, ok = pk.Expiry+1, true // [MQTT-3.3.2-5]
	}
	if maxAge := w.server.Options.Capabilities.MaximumMessageExpiryInterval; maxAge > 0 {
		if enforced := pk.Created + maxAge + 1; !ok || enforced < at {
			at, ok = enforced, true
		}
	}
	return at, ok
}

// expireRetained drops the topic's retained message if it is still the
// one the timer was armed for.
func (w *sweeper) expireRetained(topic string, e *retainedTimer) {
	w.mu.Lock()
	if w.retained[topic] != e {
		w.mu.Unlock()
		return // replaced or cleared meanwhile
	}
	delete(w.retained, topic)
	w.mu.Unlock()
	if cur, ok := w.server.Topics.Retained.Get(topic); ok && cur.Created == e.created {
		w.server.Topics.Retained.Delete(topic)
		w.log.Debug("retained message expired", "topic", topic)
	}
}
