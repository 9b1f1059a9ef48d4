package bus

import (
	"sync"

	"github.com/nats-io/nats.go"
)

// dispatchQueue is how many messages of the bus subscriptions may wait
// for the dispatcher; past it the NATS client drops them and reports a
// slow consumer (logged by Dial's error handler), as it did past its own
// limit of 524,288 messages per asynchronous subscription. Those were one
// per filter; this one queue serves them all, and its slots cost 1 MiB.
const dispatchQueue = 1 << 17

// dispatcher hands the messages of every bus subscription to their
// handlers from one goroutine.
//
// nats.go gives each asynchronous subscription (nc.Subscribe with a
// handler) its own goroutine and pending list; a broker holds one
// subscription per filter its devices subscribe to, in practice one per
// device (its command topic), so that was a goroutine, its stack and a
// condition variable per connected device. Channel subscriptions on one
// shared channel keep the interest per subject on the NATS server (a
// broker still receives only what its clients subscribed to) with one
// goroutine for all of them. Handlers run one at a time, in the order
// the messages arrived from the server, which the broker's delivery
// (serialised anyway) is content with.
type dispatcher struct {
	msgs chan *nats.Msg
	done chan struct{} // closed by Conn.Close

	mu       sync.RWMutex
	handlers map[*nats.Subscription]nats.MsgHandler
}

func newDispatcher() *dispatcher {
	return &dispatcher{msgs: make(chan *nats.Msg, dispatchQueue), done: make(chan struct{}), handlers: map[*nats.Subscription]nats.MsgHandler{}}
}

// run delivers messages until done is closed. The channel itself is
// never closed: the NATS client may still hold it while it shuts down.
func (d *dispatcher) run() {
	for {
		var m *nats.Msg
		select {
		case m = <-d.msgs:
		case <-d.done:
			return
		}
		d.mu.RLock()
		fn := d.handlers[m.Sub]
		d.mu.RUnlock()
		if fn != nil { // nil: unsubscribed while the message waited
			fn(m)
		}
	}
}

// subscribe makes a channel subscription with subscribe (ChanSubscribe or
// ChanQueueSubscribe bound to a subject) and registers fn for it. The
// lock is held across both, so that a message arriving at once waits in
// run for its handler instead of being dropped as unknown.
func (d *dispatcher) subscribe(subscribe func(chan *nats.Msg) (*nats.Subscription, error), fn nats.MsgHandler) (*nats.Subscription, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := subscribe(d.msgs)
	if err != nil {
		return nil, err
	}
	d.handlers[s] = fn
	return s, nil
}

// unsubscribe ends s; its messages still queued are dropped.
func (d *dispatcher) unsubscribe(s *nats.Subscription) error {
	err := s.Unsubscribe()
	d.mu.Lock()
	delete(d.handlers, s)
	d.mu.Unlock()
	return err
}
