package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// heartbeat publishes {"uptime_s":N,"serial":"...","broker":"..."} at
// QoS 1 to devices/<id>/heartbeat every interval until ctx ends, so the
// fleet sees a live device, not only a retained "online". broker is the
// address the session was on when the heartbeat was made ("" while
// offline). Messages queue while the broker is away.
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
		// A number and two strings: encoding cannot fail.
		payload, _ := json.Marshal(heartbeatMsg{int64(time.Since(started).Seconds()), serial, a.Broker()})
		if err := a.Publish("heartbeat", 1, payload); err != nil {
			log.Warn("heartbeat not queued", "err", err)
		}
	}
}

// heartbeatMsg is the heartbeat's payload.
type heartbeatMsg struct {
	UptimeS int64  `json:"uptime_s"`
	Serial  string `json:"serial"`
	Broker  string `json:"broker"`
}
