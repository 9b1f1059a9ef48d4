package broker

import (
	"context"

	"github.com/fleetgate/fleetgate/bus"
)

// reachability is the optional capability of a Bus that reports when its
// connection is lost and back. *bus.Conn has it.
type reachability interface {
	WatchReachable(ctx context.Context, fn func(up bool, err error))
}

// watchHealth follows the bus's reachability until ctx ends: the log and
// fleetgate_bus_connected say when routing pauses and resumes. Local
// delivery never waits for the bus: while it is down, messages for other
// brokers are counted (fleetgate_bus_messages_total{result="bus_down"})
// and dropped. The NATS client subscribes again by itself on reconnect,
// subscriptions made while it was down included.
func (r *router) watchHealth(ctx context.Context) {
	r.metrics.bindBus()
	rb, ok := r.bus.(reachability)
	if !ok {
		r.metrics.busUp.Set(1)
		return
	}
	first := make(chan struct{})
	go rb.WatchReachable(ctx, func(up bool, err error) {
		was := r.up.Swap(up)
		switch {
		case up:
			r.metrics.busUp.Set(1)
			if !was {
				r.log.Info("bus reachable again; routing resumes")
			}
		default:
			r.metrics.busUp.Set(0)
			if was {
				r.log.Warn("bus unreachable; routing paused, local delivery goes on", "error", err)
			}
		}
		select {
		case <-first:
		default:
			close(first)
		}
	})
	<-first
}

var _ reachability = (*bus.Conn)(nil)
