package test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// concurrentTakeovers: many connections CONNECT with one identity at the
// same time, each taking the session over. Whatever the interleaving,
// once a last CONNECT has taken the session over and left, none of the
// earlier connections may still be served: one identity, one live
// session. (mochi looks up the session to take over and records the new
// client in two steps, so two CONNECTs racing between them could both
// believe they own the session.)
func concurrentTakeovers(t *testing.T, e *attackEnv) {
	const workers, rounds = 16, 40
	const id = "atk-race"
	cert := e.device(t, id)

	var mu sync.Mutex
	var held []*mqttConn
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				c, code, err := connectMQTT(e.addr, e.tlsConfig(&cert), id)
				if err != nil || code != 0 {
					if c != nil {
						c.Close()
					}
					continue
				}
				admitted.Add(1)
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	// A last connection takes over whichever one is current, and leaves.
	last := e.connectMQTT(t, cert, session(id))
	_ = last.send(mqttwire.Disconnect)

	// A served connection answers PINGREQ; a taken-over one is closed.
	var orphans []*mqttConn
	for _, c := range held {
		if c.send(mqttwire.Pingreq) != nil {
			continue
		}
		p, err := c.await("PINGRESP or close", func(p mqttwire.Packet) bool { return p.Type == mqttwire.PINGRESP })
		switch {
		case err == nil && p.Type == mqttwire.PINGRESP:
			orphans = append(orphans, c)
		case err != nil && !isClosed(err):
			t.Fatalf("no PINGRESP and no close within %s: %v", attackWait, err)
		}
	}
	t.Logf("%d connections of %s admitted; %d still served after the last takeover", admitted.Load(), id, len(orphans))
	if admitted.Load() < 2 {
		t.Fatalf("only %d connections admitted: no takeover happened", admitted.Load())
	}
	if len(orphans) == 0 {
		return
	}
	// Worse than a leak would be a session revocation cannot reach.
	e.forTest(t).MustCtl("device", "revoke", id, "--reason", "attack matrix: orphaned sessions")
	var survivors int
	for _, c := range orphans {
		expectClosedOrCount(c, &survivors)
	}
	t.Fatalf("%d connections of %s were never taken over: the broker serves several live connections of one identity (after revoking the device, %d of them were still open)",
		len(orphans), id, survivors)
}

// expectClosedOrCount reads c until the server closes it, counting it in
// open if the read times out instead.
func expectClosedOrCount(c *mqttConn, open *int) {
	for {
		_, err := c.next()
		if err == nil {
			continue
		}
		if !isClosed(err) {
			*open++
		}
		return
	}
}
