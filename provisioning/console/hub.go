package console

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Sampler builds one live event for every console; the hub calls it from
// one goroutine, once per tick, however many consoles are open.
type Sampler interface {
	Sample(ctx context.Context) ([]byte, error)
}

// Hub samples once per tick while at least one console listens, and hands
// the same bytes to every listener. Twenty open consoles cost one sample
// per tick, not twenty registry reads.
type Hub struct {
	tick    time.Duration
	sampler Sampler
	log     *slog.Logger

	mu   sync.Mutex
	subs map[chan []byte]struct{}
	last []byte
	stop context.CancelFunc
	done chan struct{}
}

// NewHub returns a hub that calls s every tick while it has listeners.
func NewHub(tick time.Duration, s Sampler, log *slog.Logger) *Hub {
	return &Hub{tick: tick, sampler: s, log: log, subs: make(map[chan []byte]struct{})}
}

// Subscribe registers a listener and starts sampling if it is the first.
// The channel holds at most one event: a slow console skips to the newest.
// The latest event, if any, is delivered at once. Call cancel when done.
func (h *Hub) Subscribe() (events <-chan []byte, cancel func()) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	if h.last != nil {
		ch <- h.last
	}
	if h.stop == nil {
		ctx, stop := context.WithCancel(context.Background())
		h.stop, h.done = stop, make(chan struct{})
		go h.run(ctx, h.done)
	}
	return ch, func() { h.unsubscribe(ch) }
}

// Listeners is the number of subscribed consoles.
func (h *Hub) Listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.subs, ch)
	var done chan struct{}
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		done = h.done
		h.stop, h.done, h.last = nil, nil, nil
	}
	h.mu.Unlock()
	if done != nil {
		<-done
	}
}

// run samples at once and then every tick until ctx ends.
func (h *Hub) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for {
		if b, err := h.sampler.Sample(ctx); err != nil {
			if ctx.Err() == nil {
				h.log.Warn("console sample failed", "err", err)
			}
		} else {
			h.publish(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish hands b to every listener, replacing an event not yet taken.
func (h *Hub) publish(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = b
	for ch := range h.subs {
		select {
		case <-ch:
		default:
		}
		ch <- b
	}
}
