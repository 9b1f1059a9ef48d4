package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// countingSampler counts its calls and numbers its events.
type countingSampler struct{ calls atomic.Int64 }

func (s *countingSampler) Sample(context.Context) ([]byte, error) {
	return fmt.Appendf(nil, `{"n":%d}`, s.calls.Add(1)), nil
}

var _ Sampler = (*countingSampler)(nil)

// TestHubSharesOneSampler proves that twenty listeners cost one sample per
// tick, and that sampling stops when the last listener leaves.
func TestHubSharesOneSampler(t *testing.T) {
	s := &countingSampler{}
	h := NewHub(5*time.Millisecond, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const listeners = 20
	var chans []<-chan []byte
	var cancels []func()
	for range listeners {
		ch, cancel := h.Subscribe()
		chans = append(chans, ch)
		cancels = append(cancels, cancel)
	}
	// Every listener sees at least five events...
	deadline := time.After(10 * time.Second)
	for i, ch := range chans {
		for got := 0; got < 5; {
			select {
			case <-ch:
				got++
			case <-deadline:
				t.Fatalf("listener %d saw %d events before the deadline", i, got)
			}
		}
	}
	// ...and each event came from one sample shared by all: samples made
	// so far are far fewer than events received (20 x 5).
	if n := s.calls.Load(); n >= listeners*5 {
		t.Fatalf("%d samples for %d listeners: sampling is per listener", n, listeners)
	}
	if h.Listeners() != listeners {
		t.Fatalf("Listeners = %d", h.Listeners())
	}
	for _, c := range cancels {
		c()
	}
	stopped := s.calls.Load()
	// The last cancel waited for the sampling goroutine to end, so no
	// sample can follow; a later subscriber starts it again.
	ch, cancel := h.Subscribe()
	defer cancel()
	select {
	case b := <-ch:
		if want := fmt.Sprintf(`{"n":%d}`, stopped+1); string(b) != want {
			t.Fatalf("first event after restart %s, want %s", b, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after subscribing again")
	}
}
