package bus_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestPublishRecycledMessages: Publish reuses its messages, yet
// concurrent publishers each get their own topic, payload, origin and a
// message ID no other message has.
func TestPublishRecycledMessages(t *testing.T) {
	ns := natstest.Start(t)
	a, b := dialTest(t, ns.URL, "a"), dialTest(t, ns.URL, "b")
	const publishers, each = 4, 200
	got := make(chan bus.Delivery, publishers*each)
	stop, err := b.Subscribe("r/#", func(d bus.Delivery) { got <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if err := a.Publish(fmt.Sprintf("r/%d", p), []byte(fmt.Sprintf("%d-%d", p, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for range publishers * each {
		select {
		case d := <-got:
			var p, i int
			if _, err := fmt.Sscanf(string(d.Payload), "%d-%d", &p, &i); err != nil || d.Topic != fmt.Sprintf("r/%d", p) {
				t.Fatalf("payload %q arrived on %q", d.Payload, d.Topic)
			}
			if d.Origin != "a" || d.ID == "" || ids[d.ID] {
				t.Fatalf("payload %q: origin %q, ID %q (seen before: %v)", d.Payload, d.Origin, d.ID, ids[d.ID])
			}
			ids[d.ID] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d messages arrived", len(ids), publishers*each)
		}
	}
}
