package store

import (
	"context"
	"sync"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Watch returns a channel that receives every Change committed after Watch
// returned, in commit order. Each subscriber has its own unbounded queue
// drained by its own goroutine, so a slow reader never loses a change and
// never delays a writer. The channel is closed when ctx is done or the
// registry is closed; changes not yet received by then are dropped.
//
// On etcd the feed comes from the watch of the local copy: Watch first
// waits, briefly, until the copy holds this process's latest commit, so
// that changes committed here before the call are not reported.
func (db *DB) Watch(ctx context.Context) <-chan Change {
	if s, ok := db.kv.(kv.ChangeSource); ok {
		s.AwaitOwnCommits(ctx)
	}
	return db.feed.subscribe(ctx)
}

// feed fans committed changes out to subscribers.
type feed struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{} // closed by close: every subscriber stops
	wg     sync.WaitGroup
}

// subscriber is one Watch call: a queue filled by publish and a goroutine
// that moves it into out.
type subscriber struct {
	mu    sync.Mutex
	queue []Change
	wake  chan struct{} // capacity 1: "queue may be non-empty"
	out   chan Change
}

func (f *feed) init() {
	f.subs = make(map[*subscriber]struct{})
	f.done = make(chan struct{})
}

// subscribe registers a subscriber before returning, so that it sees every
// change published afterwards.
func (f *feed) subscribe(ctx context.Context) <-chan Change {
	s := &subscriber{wake: make(chan struct{}, 1), out: make(chan Change)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(s.out)
		return s.out
	}
	f.subs[s] = struct{}{}
	f.wg.Add(1)
	go f.run(ctx, s)
	return s.out
}

// run delivers s's queue until ctx is done or the feed closes.
func (f *feed) run(ctx context.Context, s *subscriber) {
	defer f.wg.Done()
	defer close(s.out)
	defer f.unsubscribe(s)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.out <- c:
			case <-ctx.Done():
				return
			case <-f.done:
				return
			}
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		case <-f.done:
			return
		}
	}
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

// publish appends changes to every subscriber's queue. It never blocks on a
// subscriber: it only takes short locks and signals without waiting.
func (f *feed) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.mu.Lock()
		s.queue = append(s.queue, changes...)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// close stops every subscriber and waits until their channels are closed.
func (f *feed) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.done)
	f.mu.Unlock()
	f.wg.Wait()
}
