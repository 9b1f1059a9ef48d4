package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// heartbeat publishes {"uptime_s":N,"serial":"..."} at QoS 1 to
// devices/<id>/heartbeat every interval until ctx ends, so the fleet sees
// a live device, not only a retained "online". Messages queue while the
// broker is away.
func heartbeat(ctx context.Context, a *agent.Agent, interval time.Duration, log *slog.Logger) {
	started := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		serial := ""
		if c, ok := a.Credentials(); ok {
			serial = c.Serial
		}
		payload := fmt.Appendf(nil, `{"uptime_s":%d,"serial":%q}`, int64(time.Since(started).Seconds()), serial)
		if err := a.Publish("heartbeat", 1, payload); err != nil {
			log.Warn("heartbeat not queued", "err", err)
		}
	}
}
