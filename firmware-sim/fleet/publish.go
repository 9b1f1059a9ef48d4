package fleet

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// publish makes every connected device publish once per PublishInterval,
// the devices spread evenly over the interval (device i at i/N of it),
// until ctx ends. Devices whose session is down skip their turn: the
// end-to-end latency is the broker's, not a reconnect's.
func (s *sim) publish(ctx context.Context) {
	n := len(s.devices)
	perSec := float64(n) / s.cfg.PublishInterval.Seconds()
	payload := make([]byte, s.cfg.PayloadSize)
	for i := minPayload; i < len(payload); i++ {
		payload[i] = byte('a' + i%26)
	}
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	done := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds() * perSec)
		for ; done < due; done++ {
			d := s.devices[done%n]
			if d.agent == nil || !d.up.Load() || d.revokedAt.Load() != 0 {
				continue
			}
			// Publish copies the payload, so one buffer serves all.
			binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			binary.BigEndian.PutUint32(payload[8:], uint32(d.idx))
			err := d.agent.Publish(dataTopic, s.cfg.QoS, payload)
			switch {
			case err == nil:
				s.m.published.Add(1)
			case errors.Is(err, agent.ErrQueueFull):
				s.m.queueFull.Add(1)
				s.m.errs.Inc(kindQueueFull)
			default:
				s.m.errs.Inc("publish: " + err.Error())
			}
		}
	}
}
