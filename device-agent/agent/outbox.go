package agent

import (
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// message is one publish waiting for the broker. tok is the paho token of
// its send on the current connection; only the flusher touches it.
type message struct {
	topic   string
	qos     byte
	payload []byte
	tok     mqtt.Token
}

// outbox holds every message from Publish until the broker acknowledged
// it, across reconnects and rotations: a connection that ends takes no
// message with it, the next one sends again what was not acknowledged
// (QoS 1 is at least once). While a connection is live, a flusher
// goroutine sends and collects acknowledgements; it runs only while
// messages are queued (Publish starts it, an empty queue ends it), so an
// idle device holds no goroutine for it. Publish only appends.
type outbox struct {
	mu        sync.Mutex
	q         []*message
	max       int
	wake      chan struct{} // a message was added
	emptied   chan struct{} // closed when q empties, if someone waits
	published func(topic string)
	live      *flusher // the live connection's; nil while down
}

func newOutbox(max int, published func(string)) *outbox {
	return &outbox{max: max, wake: make(chan struct{}, 1), published: published}
}

// add queues m, or fails with ErrQueueFull.
func (o *outbox) add(m *message) error {
	o.mu.Lock()
	if len(o.q) >= o.max {
		o.mu.Unlock()
		return fmt.Errorf("%w: %d messages waiting", ErrQueueFull, o.max)
	}
	o.q = append(o.q, m)
	if f := o.live; f != nil && !f.running {
		f.spawnLocked()
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// len returns the number of messages not yet acknowledged.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// flusher is the flush loop of one connection. running and done are
// guarded by the outbox's mu.
type flusher struct {
	o        *outbox
	client   mqtt.Client
	inflight int
	stopc    chan struct{}
	running  bool          // a loop goroutine is running
	done     chan struct{} // closed when that goroutine returns
}

// start makes client the connection messages go out on, until stop.
func (o *outbox) start(client mqtt.Client, inflight int) *flusher {
	f := &flusher{o: o, client: client, inflight: inflight, stopc: make(chan struct{})}
	o.mu.Lock()
	o.live = f
	if len(o.q) > 0 {
		f.spawnLocked()
	}
	o.mu.Unlock()
	return f
}

// spawnLocked starts the loop; the caller holds o.mu.
func (f *flusher) spawnLocked() {
	f.running, f.done = true, make(chan struct{})
	go f.o.flush(f, f.done)
}

// stop ends the loop and waits for it; unacknowledged messages stay queued
// and are sent again on the next connection.
func (f *flusher) stop() {
	if f == nil {
		return
	}
	o := f.o
	o.mu.Lock()
	if o.live == f {
		o.live = nil
	}
	running, done := f.running, f.done
	o.mu.Unlock()
	close(f.stopc)
	if running {
		<-done
	}
	o.requeue()
}

// flush sends the first inflight messages and waits for the oldest one's
// acknowledgement, a new message or stop, until the queue is empty.
// Waiting on the oldest suffices: the broker acknowledges in order, and a
// connection that fails fails them all.
func (o *outbox) flush(f *flusher, done chan struct{}) {
	defer close(done)
	client, inflight := f.client, f.inflight
	for {
		o.mu.Lock()
		var send []*message
		for i, m := range o.q {
			if i >= inflight {
				break
			}
			if m.tok == nil {
				send = append(send, m)
			}
		}
		o.mu.Unlock()
		for _, m := range send {
			select {
			case <-f.stopc: // a send can block while paho notices a loss
				return
			default:
			}
			m.tok = client.Publish(m.topic, m.qos, false, m.payload)
		}

		o.mu.Lock()
		if len(o.q) == 0 {
			// Nothing left: the next add starts a loop again.
			f.running = false
			o.mu.Unlock()
			return
		}
		head := o.q[0]
		o.mu.Unlock()
		var acked <-chan struct{}
		if head.tok != nil {
			acked = head.tok.Done()
		}
		select {
		case <-f.stopc:
			return
		case <-o.wake:
		case <-acked:
			if head.tok.Error() == nil {
				o.collect()
				continue
			}
			// The connection failed under the message: the runner is
			// about to stop this loop. Should it not, send again later.
			o.resetFailed()
			t := time.NewTimer(time.Second)
			select {
			case <-f.stopc:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// collect removes every acknowledged message, reporting each.
func (o *outbox) collect() {
	o.mu.Lock()
	var done []string
	kept := o.q[:0]
	for _, m := range o.q {
		if m.tok != nil && isDone(m.tok) && m.tok.Error() == nil {
			done = append(done, m.topic)
			continue
		}
		kept = append(kept, m)
	}
	clear(o.q[len(kept):]) // drop references for the collector
	o.q = kept
	if len(o.q) == 0 && o.emptied != nil {
		close(o.emptied)
		o.emptied = nil
	}
	o.mu.Unlock()
	if o.published != nil {
		for _, t := range done {
			o.published(t)
		}
	}
}

// resetFailed forgets the sends that failed, so they are sent again.
func (o *outbox) resetFailed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.q {
		if m.tok != nil && isDone(m.tok) && m.tok.Error() != nil {
			m.tok = nil
		}
	}
}

// requeue runs when the flush loop ends: acknowledged messages are
// collected, all others will be sent again on the next connection.
func (o *outbox) requeue() {
	o.collect()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.q {
		m.tok = nil
	}
}

// waitEmpty waits until every queued message was acknowledged, or d.
func (o *outbox) waitEmpty(d time.Duration) bool {
	o.mu.Lock()
	if len(o.q) == 0 {
		o.mu.Unlock()
		return true
	}
	if o.emptied == nil {
		o.emptied = make(chan struct{})
	}
	ch := o.emptied
	o.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// isDone reports whether a token completed, without blocking.
func isDone(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}
