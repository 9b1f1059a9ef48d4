package fleet

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay forwards the agents' provisioning connections to the API and
// closes each one once it has been idle for a while, as a NAT or a load
// balancer in front of the service would.
//
// Why: the agent keeps its enrollment connection alive (Go's HTTP client
// does, for 90 seconds) although a device enrolls once. During a ramp of
// thousands of devices those idle connections double the sockets both
// the simulator and the server hold, and the open-file limit binds at
// half the fleet. The relay is a plain TCP forwarder: TLS still runs end
// to end between agent and API.
type relay struct {
	ln     net.Listener
	target string
	idle   time.Duration
	wg     sync.WaitGroup
	open   atomic.Int64 // connections being relayed
}

// answerWait bounds how long the relay waits for the API to answer a
// request (the last bytes went from the agent to the API): a loaded API
// takes longer than idle, and cutting the connection then would lose an
// answer the API committed (a one-time token spent, its certificate never
// delivered).
const answerWait = 2 * time.Minute

// startRelay listens on a loopback port and relays to target.
func startRelay(target string, idle time.Duration) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, idle: idle}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// addr is the relay's host:port.
func (r *relay) addr() string { return r.ln.Addr().String() }

// close stops accepting and waits for the relayed connections to end.
func (r *relay) close() {
	_ = r.ln.Close()
	r.wg.Wait()
}

func (r *relay) serve() {
	defer r.wg.Done()
	var backoff time.Duration
	for {
		c, err := r.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors and the like: wait and retry, as
			// net/http does; giving up would strand every later enrollment.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		r.wg.Add(1)
		go r.pipe(c)
	}
}

// pipe copies both ways until either side closes or neither has sent
// anything for idle.
func (r *relay) pipe(down net.Conn) {
	defer r.wg.Done()
	defer down.Close()
	up, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	r.open.Add(1)
	defer r.open.Add(-1)
	var last atomic.Int64
	var asked atomic.Bool // the last bytes were the agent's: an answer is due
	last.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	copyIdle := func(dst, src net.Conn, fromAgent bool) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 8<<10)
		for {
			_ = src.SetReadDeadline(time.Now().Add(r.idle))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				asked.Store(fromAgent)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				quiet := time.Since(time.Unix(0, last.Load()))
				if quiet < r.idle || (asked.Load() && quiet < answerWait) {
					continue // the other direction is busy, or a request is being answered
				}
			}
			if err != nil {
				return
			}
		}
	}
	go copyIdle(up, down, true)
	go copyIdle(down, up, false)
	<-done // one side ended or went idle: end both
}
