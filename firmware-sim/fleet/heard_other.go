//go:build !linux

package fleet

import (
	"net"
	"time"
)

// lastReceived and goodbyeHeard cannot read TCP_INFO here: zero, the
// events are timed when the simulator notices them.
func lastReceived(net.Conn) time.Time { return time.Time{} }

func goodbyeHeard(net.Conn) time.Time { return time.Time{} }
