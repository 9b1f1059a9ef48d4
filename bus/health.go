package bus

import (
	"context"

	"github.com/nats-io/nats.go"
)

// WatchReachable calls fn(false, err) when the connection to NATS is lost
// and fn(true, nil) when it is up again, until ctx ends. The first call
// reports the state at the start. It listens beside the Conn's own
// handlers, so that the broker can log and count outages without
// replacing them.
func (c *Conn) WatchReachable(ctx context.Context, fn func(up bool, err error)) {
	ch := c.nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	defer c.nc.RemoveStatusListener(ch)
	up := c.nc.IsConnected()
	fn(up, c.nc.LastError())
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			// The channel drops events when full: read the state itself.
			if now := c.nc.IsConnected(); now != up {
				up = now
				fn(up, c.nc.LastError())
			}
		}
	}
}
