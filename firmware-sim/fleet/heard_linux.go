package fleet

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// lastReceived is when this host's kernel last received data on raw, by
// TCP_INFO (tcpi_last_data_recv, in milliseconds), or zero when it cannot
// tell. When a read ends the connection it is when the broker's goodbye
// arrived (the TLS close_notify that a broker's drop writes before its
// FIN), whatever the delay before the simulator's goroutine ran: on a
// loaded host that delay is the simulator's, not the broker's.
func lastReceived(raw net.Conn) time.Time {
	tcp, ok := raw.(*net.TCPConn)
	if !ok {
		return time.Time{}
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return time.Time{}
	}
	var info *unix.TCPInfo
	now := time.Now()
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil || info == nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(info.Last_data_recv) * time.Millisecond)
}
