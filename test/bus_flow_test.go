package test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// flowWindow bounds the QoS 1 messages a flow publisher has unacknowledged.
const flowWindow = 64

// flowResult is one flow of messages from a publisher to a subscriber.
type flowResult struct {
	sent, received int
	perSecond      float64   // received over the first send to the last arrival
	latencies      []float64 // ms, publish written to delivery read
}

// pct returns the q-quantile of the latencies (sorted by flow).
func (r flowResult) pct(q float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// flowSub reads a subscriber's deliveries: each payload starts with its
// send time; QoS 1 deliveries are acknowledged.
type flowSub struct {
	c    *mqttConn
	mu   sync.Mutex
	lat  []float64
	last time.Time
	done chan struct{}
}

func newFlowSub(c *mqttConn) *flowSub {
	s := &flowSub{c: c, done: make(chan struct{})}
	go s.read()
	return s
}

func (s *flowSub) read() {
	defer close(s.done)
	for {
		_ = s.c.tc.SetReadDeadline(time.Now().Add(attackWait))
		p, err := mqttwire.ReadPacket(s.c.r, mqttwire.MaxPacket)
		if err != nil {
			return
		}
		if p.Type != mqttwire.PUBLISH {
			continue
		}
		_, id, payload, err := mqttwire.ParsePublish(p)
		if err != nil || len(payload) < 8 {
			continue
		}
		now := time.Now()
		if p.QoS() > 0 {
			_ = s.c.send(mqttwire.Puback(id))
		}
		sent := time.Unix(0, int64(binary.BigEndian.Uint64(payload)))
		s.mu.Lock()
		s.lat = append(s.lat, float64(now.Sub(sent).Microseconds())/1000)
		s.last = now
		s.mu.Unlock()
	}
}

// count returns how many deliveries arrived.
func (s *flowSub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lat)
}

// reset forgets what arrived so far.
func (s *flowSub) reset() {
	s.mu.Lock()
	s.lat, s.last = nil, time.Time{}
	s.mu.Unlock()
}

// settle waits until want deliveries arrived or none came for quiet.
func (s *flowSub) settle(want int, quiet time.Duration) {
	seen, since := -1, time.Now()
	for {
		n := s.count()
		if n >= want || time.Since(since) > quiet {
			return
		}
		if n != seen {
			seen, since = n, time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flowPub publishes on one connection; at QoS 1 a reader counts the
// PUBACKs and holds the window.
type flowPub struct {
	c      *mqttConn
	topic  string
	qos    byte
	window chan struct{}
	nextID uint16
}

func newFlowPub(c *mqttConn, topic string, qos byte) *flowPub {
	p := &flowPub{c: c, topic: topic, qos: qos, window: make(chan struct{}, flowWindow)}
	if qos > 0 {
		go func() {
			for {
				_ = c.tc.SetReadDeadline(time.Time{})
				pk, err := mqttwire.ReadPacket(c.r, mqttwire.MaxPacket)
				if err != nil {
					return
				}
				if pk.Type == mqttwire.PUBACK {
					<-p.window
				}
			}
		}()
	}
	return p
}

// publish sends one message stamped with the time now.
func (p *flowPub) publish(payload []byte) error {
	var id uint16
	if p.qos > 0 {
		select {
		case p.window <- struct{}{}:
		case <-time.After(attackWait):
			return errors.New("no PUBACK for 30 s")
		}
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		id = p.nextID
	}
	binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
	return p.c.send(mqttwire.Publish(p.topic, p.qos, id, payload))
}

// run publishes n messages, every interval (0: as fast as the window
// lets), and waits for them at s.
func (p *flowPub) run(s *flowSub, n int, interval time.Duration) (flowResult, error) {
	s.reset()
	payload := make([]byte, 64)
	start := time.Now()
	for i := range n {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		if err := p.publish(payload); err != nil {
			return flowResult{}, fmt.Errorf("publish %d of %d: %w", i+1, n, err)
		}
	}
	s.settle(n, 2*time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := flowResult{sent: n, received: len(s.lat), latencies: slices.Sorted(slices.Values(s.lat))}
	if r.received > 0 {
		r.perSecond = float64(r.received) / s.last.Sub(start).Seconds()
	}
	return r, nil
}
