package natstest

import (
	"testing"
	"time"
)

// TestClusterRoutesAfterRestart starts three nodes, kills one and brings
// it back: every node is routed to the two others again.
func TestClusterRoutesAfterRestart(t *testing.T) {
	c := StartCluster(t, 3)
	c.Kill(1)
	c.Restart(t, 1)
	deadline := time.Now().Add(readyTimeout)
	for _, s := range c.Nodes {
		for s.Routes(t) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d routes, want 2", s.Name, s.Routes(t))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
