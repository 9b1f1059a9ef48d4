package agent

import (
	"io"
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards loopback connections to a target address. Each proxy
// is one address for the agent; cut makes it look like a host that died:
// every connection closed, nothing accepted any more.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	cutDone  bool
	refusing bool // accept, then close at once
	refused  int  // connections closed while refusing
}

// newProxy starts a proxy to target on a fresh loopback port; it stops
// when the test ends.
func newProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(p.cut)
	return p
}

// addr is the proxy's address, host:port.
func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

// cut closes the listener and every connection, both sides.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutDone {
		return
	}
	p.cutDone = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
}

// refuse(true) closes every connection and makes the proxy close new ones
// as soon as it accepts them: a broker that takes TCP connections and
// drops them. refuse(false) forwards again.
func (p *tcpProxy) refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = on
	if on {
		for c := range p.conns {
			c.Close()
		}
	}
}

// refusals returns how many connections the proxy closed while refusing.
func (p *tcpProxy) refusals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// track registers c; it reports false (and closes c) after a cut or
// while refusing.
func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutDone || p.refusing {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // cut
		}
		p.mu.Lock()
		refuse := p.refusing
		if refuse {
			p.refused++
		}
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		go p.forward(client)
	}
}

// forward copies both ways until either side ends, then closes both.
func (p *tcpProxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(server) {
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(server, client)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(client, server)
		done <- struct{}{}
	}()
	<-done
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
