package bench

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// measurer runs the measurements with one set of devices and dialers.
type measurer struct {
	devs    []device
	dialers *host.Dialers
}

// connects runs `clients` loops of full mTLS handshake, CONNECT, CONNACK,
// DISCONNECT for d, each loop with its own devices (so no two loops use
// one identity at once, which the broker would treat as a takeover), and
// returns the connects completed, the time taken, and the errors.
func (m *measurer) connects(ctx context.Context, addr string, clients int, d time.Duration, lat *report.Sample) (int64, time.Duration, int64, string) {
	var n, errs atomic.Int64
	var kx atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := i; time.Now().Before(deadline) && ctx.Err() == nil; k += clients {
				dev := m.devs[k%len(m.devs)]
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				c, err := mqttwire.Dial(cctx, m.dialers.Next(), addr, dev.tls, dev.id, 0)
				cancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				lat.Add(time.Since(t0))
				kx.Store(c.KeyExchange)
				_ = c.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	k, _ := kx.Load().(string)
	return n.Load(), time.Since(start), errs.Load(), k
}

// messages connects `clients` devices, each subscribed to its own topic,
// and keeps `window` messages of QoS qos in flight per client through the
// server for d: a client sends a new message each time one of its own
// comes back. It returns the messages delivered back within d.
func (m *measurer) messages(ctx context.Context, addr string, clients, window int, qos byte, payload int, d time.Duration) (int64, error) {
	conns := make([]*mqttwire.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	// The last devices: the connect loops use the first ones.
	for i := range clients {
		dev := m.devs[len(m.devs)-1-i]
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := mqttwire.Dial(cctx, m.dialers.Next(), addr, dev.tls, dev.id, 60)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("%w: message client: %w", ErrContender, err)
		}
		conns = append(conns, c)
		topic := "devices/" + dev.id + "/bench"
		if _, err := c.Write(mqttwire.Subscribe(1, topic, qos)); err != nil {
			return 0, err
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if p, err := mqttwire.ReadPacket(c.R, mqttwire.MaxPacket); err != nil || p.Type != mqttwire.SUBACK {
			return 0, fmt.Errorf("%w: no SUBACK from %s: %v", ErrContender, addr, err)
		}
	}
	var delivered atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echoLoop(c, "devices/"+m.devs[len(m.devs)-1-i].id+"/bench", window, qos, payload, stop, &delivered); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return delivered.Load(), err
	default:
	}
	return delivered.Load(), nil
}

// echoLoop is one message client: it fills the window, then answers each
// message delivered back with the next one (and a PUBACK at QoS 1).
func echoLoop(c *mqttwire.Conn, topic string, window int, qos byte, size int, stop time.Time, delivered *atomic.Int64) error {
	w := bufio.NewWriterSize(c, 16<<10)
	body := make([]byte, size)
	var id uint16
	next := func() []byte {
		id++
		if id == 0 {
			id = 1
		}
		return mqttwire.Publish(topic, qos, id, body)
	}
	for range window {
		_, _ = w.Write(next())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_ = c.SetReadDeadline(stop)
	for {
		p, err := mqttwire.ReadPacket(c.R, mqttwire.MaxPacket)
		if err != nil {
			if time.Now().After(stop.Add(-10 * time.Millisecond)) {
				return nil // the round is over
			}
			return fmt.Errorf("%w: message loop: %w", ErrContender, err)
		}
		if p.Type != mqttwire.PUBLISH {
			continue // PUBACKs of our own publishes, PINGRESP
		}
		_, rid, _, err := mqttwire.ParsePublish(p)
		if err != nil {
			return err
		}
		delivered.Add(1)
		if (p.Flags>>1)&3 == 1 {
			_, _ = w.Write(mqttwire.Puback(rid))
		}
		_, _ = w.Write(next())
		if c.R.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// wait waits d or until ctx ends; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
