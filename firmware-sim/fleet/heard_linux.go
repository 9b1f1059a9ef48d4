package fleet

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpCloseWait is Linux's TCP_CLOSE_WAIT: the peer's FIN has arrived and
// this side has not closed yet.
const tcpCloseWait = 8

// tcpInfo reads raw's TCP_INFO and the time it was read; nil when it
// cannot (not TCP, already closed).
func tcpInfo(raw net.Conn) (*unix.TCPInfo, time.Time) {
	tcp, ok := raw.(*net.TCPConn)
	if !ok {
		return nil, time.Time{}
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nil, time.Time{}
	}
	var info *unix.TCPInfo
	now := time.Now()
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil {
		return nil, time.Time{}
	}
	return info, now
}

// lastReceived is when this host's kernel last received data on raw, by
// TCP_INFO (tcpi_last_data_recv, in milliseconds), or zero when it cannot
// tell.
func lastReceived(raw net.Conn) time.Time {
	info, now := tcpInfo(raw)
	if info == nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(info.Last_data_recv) * time.Millisecond)
}

// goodbyeHeard is when the broker's goodbye reached this host's kernel,
// if the broker has ended the connection (its FIN arrived, TCP_INFO says
// CLOSE_WAIT), else zero. The goodbye is the last data before that FIN:
// the TLS close_notify a broker's drop writes before closing. It is the
// kernel's time, whatever the delay before the simulator's goroutine ran:
// on a loaded host that delay is the simulator's, not the broker's. A
// connection this side closes, or one reset, says nothing of a goodbye.
func goodbyeHeard(raw net.Conn) time.Time {
	info, now := tcpInfo(raw)
	if info == nil || info.State != tcpCloseWait {
		return time.Time{}
	}
	return now.Add(-time.Duration(info.Last_data_recv) * time.Millisecond)
}
