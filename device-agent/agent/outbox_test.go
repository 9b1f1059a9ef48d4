package agent

import (
	"testing"
	"time"
)

// TestFlusherOnlyWhileQueued: on a live session the outbox's flush loop
// ends once every message was acknowledged, and the next Publish starts
// it again, so an idle device holds no goroutine for it and a message
// published after an idle spell still goes out.
func TestFlusherOnlyWhileQueued(t *testing.T) {
	srv := newServer(t)
	ev := newEvents()
	a := start(t, softwareConfig(t, srv, "idle-1", srv.Token("boards"), ev))
	await(t, ev.connected, "connection")
	for i := range 3 {
		if err := a.Publish("data", 1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		await(t, ev.published, "publish ack")
		deadline := time.Now().Add(wait)
		for live, running := a.out.state(); running; live, running = a.out.state() {
			if !live {
				t.Fatal("the session went down")
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %d: the flush loop still runs with nothing queued", i)
			}
			time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
		}
		if live, _ := a.out.state(); !live || a.Queued() != 0 {
			t.Fatalf("message %d: session live %v, %d queued; want live and none", i, live, a.Queued())
		}
	}
}

// state reports whether a connection is live and its flush loop runs.
func (o *outbox) state() (live, running bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live != nil, o.live != nil && o.live.running
}
