package broker

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// FuzzPublish connects as fz-a and sends arbitrary bytes after the
// CONNECT. An observer allowed to read every topic (grant #) sees what
// the broker delivers; once fz-a's connection is gone, a control device
// publishes a sentinel, and everything the observer got before it must lie
// in devices/fz-a/. The broker's publish ACL must agree with the oracle on
// every topic mochi decodes.
func FuzzPublish(f *testing.F) {
	e := newFuzzEnv(f)
	observed := e.observe(f, e.issue("fz-obs", store.Device{Subscribe: []string{"#"}}))
	ctl := e.dialKeepalive(f, e.issue("fz-ctl", store.Device{Publish: []string{"fuzz/#"}}), "fz-ctl")
	g := fuzzGrants()
	var round int
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := append(mqttwire.Connect(fuzzDevice, 60, true), data...)
		for _, pk := range decodeStream(stream)[1:] {
			if pk.FixedHeader.Type == packets.Connect {
				break
			}
			if pk.FixedHeader.Type == packets.Publish {
				if got, want := g.canPublish(pk.TopicName), oraclePublish(fuzzDevice, pk.TopicName); got != want {
					t.Fatalf("canPublish(%q) = %v, oracle %v", pk.TopicName, got, want)
				}
			}
		}
		e.exchange(t, stream)

		// mochi forwards a connection's messages before it closes it, so
		// the sentinel, published after, arrives after all of them.
		round++
		sentinel := fmt.Sprintf("sentinel %d", round)
		ctl.publish(t, uint16(round%65535+1), "fuzz/sentinel", sentinel)
		deadline := time.After(fuzzWait)
		for {
			select {
			case m, ok := <-observed:
				if !ok {
					t.Fatalf("the observer was disconnected")
				}
				if m.TopicName == "fuzz/sentinel" {
					if string(m.Payload) == sentinel {
						return
					}
					continue
				}
				if !oraclePublish(fuzzDevice, m.TopicName) {
					t.Fatalf("fz-a's bytes made the broker deliver %q on %q", m.Payload, m.TopicName)
				}
			case <-deadline:
				t.Fatalf("sentinel not delivered within %s", fuzzWait)
			}
		}
	})
}

// keepaliveConn is a device connection that stays up for the whole fuzz
// run: keepalive 0, so the broker sets no read deadline.
type keepaliveConn struct {
	c *tls.Conn
	r *bufio.Reader
}

// dialKeepalive connects a device with keepalive 0 and checks its CONNACK.
func (e *fuzzEnv) dialKeepalive(f *testing.F, cert tls.Certificate, id string) *keepaliveConn {
	f.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: fuzzWait}, "tcp", e.addr, e.conf(cert))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	if _, err := c.Write(mqttwire.Connect(id, 0, true)); err != nil {
		f.Fatal(err)
	}
	k := &keepaliveConn{c: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(fuzzWait))
	p, err := readFuzzPacket(k.r)
	if err != nil || p.fh.Type != packets.Connack || len(p.body) != 2 || p.body[1] != 0 {
		f.Fatalf("%s not admitted: %v %+v", id, err, p)
	}
	_ = c.SetReadDeadline(time.Time{})
	return k
}

// publish sends a QoS 1 message and waits for its PUBACK.
func (k *keepaliveConn) publish(t *testing.T, id uint16, topic, payload string) {
	t.Helper()
	_ = k.c.SetDeadline(time.Now().Add(fuzzWait))
	defer k.c.SetDeadline(time.Time{})
	if _, err := k.c.Write(mqttwire.Publish(topic, 1, id, []byte(payload))); err != nil {
		t.Fatalf("control publish: %v", err)
	}
	for {
		p, err := readFuzzPacket(k.r)
		if err != nil {
			t.Fatalf("control publish: %v", err)
		}
		if p.fh.Type == packets.Puback {
			return
		}
	}
}

// observe connects a device that subscribes to # at QoS 0 and returns the
// messages it receives, in order. The channel closes if the connection
// ends.
func (e *fuzzEnv) observe(f *testing.F, cert tls.Certificate) <-chan packets.Packet {
	f.Helper()
	k := e.dialKeepalive(f, cert, "fz-obs")
	if _, err := k.c.Write(mqttwire.Subscribe(1, "#", 0)); err != nil {
		f.Fatal(err)
	}
	_ = k.c.SetReadDeadline(time.Now().Add(fuzzWait))
	p, err := readFuzzPacket(k.r)
	if err != nil || p.fh.Type != packets.Suback || len(p.body) != 3 || p.body[2] != 0 {
		f.Fatalf("observer subscription to #: %v %+v", err, p)
	}
	_ = k.c.SetReadDeadline(time.Time{})
	out := make(chan packets.Packet, 1<<16)
	go func() {
		defer close(out)
		for {
			p, err := readFuzzPacket(k.r)
			if err != nil {
				return
			}
			if p.fh.Type != packets.Publish {
				continue
			}
			pk := packets.Packet{FixedHeader: p.fh, ProtocolVersion: 4}
			if pk.PublishDecode(p.body) == nil {
				out <- pk
			}
		}
	}()
	return out
}
