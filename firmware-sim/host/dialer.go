package host

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: bind the source
// address but choose the port at connect time, from the ports free for
// that destination, instead of reserving one at bind time.
const ipBindAddressNoPort = 24

// Dialers hands out net.Dialers bound to the source addresses in turn, so
// connections spread evenly; with no sources they are plain dialers.
type Dialers struct {
	sources []net.IP
	next    atomic.Uint64
	timeout time.Duration
}

// NewDialers returns dialers over sources (see LoopbackSources).
func NewDialers(sources []net.IP, timeout time.Duration) *Dialers {
	return &Dialers{sources: sources, timeout: timeout}
}

// Next returns a dialer for the next source address.
func (d *Dialers) Next() *net.Dialer {
	nd := &net.Dialer{Timeout: d.timeout}
	if len(d.sources) == 0 {
		return nd
	}
	src := d.sources[int(d.next.Add(1)-1)%len(d.sources)]
	nd.LocalAddr = &net.TCPAddr{IP: src}
	nd.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}
	return nd
}

// Sources returns the source addresses as strings.
func (d *Dialers) Sources() []string {
	out := make([]string, len(d.sources))
	for i, s := range d.sources {
		out[i] = s.String()
	}
	return out
}
