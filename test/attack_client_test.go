package test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// attackWait bounds anything the matrix awaits: generous for a loaded
// 2-core machine, reached only when something is broken.
const attackWait = 30 * time.Second

// mqttConn is a hand-driven MQTT connection over TLS. It records every
// PUBLISH it reads, so that a row can check afterwards that nothing
// outside the ACL arrived.
type mqttConn struct {
	tc        *tls.Conn
	r         *bufio.Reader
	local     string // our address, as the server logs it (remote=...)
	published []publishMsg
}

// dialMQTT opens TCP and runs the TLS handshake. The connection is
// returned whenever TCP succeeded, so that a caller can look up its log
// lines even when the handshake failed.
func dialMQTT(addr string, conf *tls.Config) (*mqttConn, error) {
	raw, err := net.DialTimeout("tcp", addr, attackWait)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, conf)
	c := &mqttConn{tc: tc, r: bufio.NewReader(tc), local: raw.LocalAddr().String()}
	_ = tc.SetDeadline(time.Now().Add(attackWait))
	return c, tc.Handshake()
}

// connectMQTT dials addr, sends a clean CONNECT for id and reads the
// CONNACK. The connection is returned open (nil when TCP failed) with the
// CONNACK code (0: admitted); the caller closes it.
func connectMQTT(addr string, conf *tls.Config, id string) (*mqttConn, byte, error) {
	c, err := dialMQTT(addr, conf)
	if err == nil {
		err = c.send(session(id).Packet())
	}
	var code byte
	if err == nil {
		code, _, err = c.connack()
	}
	return c, code, err
}

func (c *mqttConn) Close() error { return c.tc.Close() }

func (c *mqttConn) send(pk []byte) error {
	_ = c.tc.SetWriteDeadline(time.Now().Add(attackWait))
	_, err := c.tc.Write(pk)
	return err
}

// next reads one packet, remembering a PUBLISH.
func (c *mqttConn) next() (mqttwire.Packet, error) {
	_ = c.tc.SetReadDeadline(time.Now().Add(attackWait))
	p, err := mqttwire.ReadPacket(c.r, mqttwire.MaxPacket)
	if err == nil && p.Type == mqttwire.PUBLISH {
		m, perr := decodePublish(p)
		if perr != nil {
			return p, perr
		}
		c.published = append(c.published, m)
	}
	return p, err
}

// await reads packets until one satisfies match and returns it.
func (c *mqttConn) await(what string, match func(mqttwire.Packet) bool) (mqttwire.Packet, error) {
	for {
		p, err := c.next()
		if err != nil {
			return p, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if match(p) {
			return p, nil
		}
	}
}

// connack reads the CONNACK: its return code and session-present flag.
func (c *mqttConn) connack() (code byte, present bool, err error) {
	p, err := c.next()
	if err != nil {
		return 0, false, err
	}
	if p.Type != mqttwire.CONNACK || len(p.Body) != 2 {
		return 0, false, fmt.Errorf("first packet from the broker is type %d, not CONNACK", p.Type)
	}
	return p.Body[1], p.Body[0]&1 != 0, nil
}

// subscribe sends one SUBSCRIBE and returns the SUBACK return code.
func (c *mqttConn) subscribe(t *testing.T, id uint16, filter string, qos byte) byte {
	t.Helper()
	if err := c.send(mqttwire.Subscribe(id, filter, qos)); err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	p, err := c.await("SUBACK", func(p mqttwire.Packet) bool { return p.Type == mqttwire.SUBACK })
	if err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	if len(p.Body) != 3 {
		t.Fatalf("subscribe %q: SUBACK of %d bytes", filter, len(p.Body))
	}
	return p.Body[2]
}

// awaitPayload reads until a PUBLISH with payload arrives and returns
// everything published to this connection up to and including it.
func (c *mqttConn) awaitPayload(t *testing.T, payload string) []publishMsg {
	t.Helper()
	_, err := c.await("PUBLISH "+payload, func(p mqttwire.Packet) bool {
		m, _ := decodePublish(p)
		if p.Type == mqttwire.PUBLISH && m.qos > 0 {
			_ = c.send(mqttwire.Puback(m.id))
		}
		return p.Type == mqttwire.PUBLISH && m.payload == payload
	})
	if err != nil {
		t.Fatalf("%v; received before: %+v", err, c.published)
	}
	return c.published
}

// connectMQTT connects a device that must be admitted; the connection is
// closed at cleanup.
func (e *attackEnv) connectMQTT(t *testing.T, cert tls.Certificate, o mqttwire.ConnectOptions) *mqttConn {
	t.Helper()
	c, err := dialMQTT(e.addr, e.tlsConfig(&cert))
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	if err != nil {
		t.Fatalf("TLS handshake of %s: %v", o.ClientID, err)
	}
	if err := c.send(o.Packet()); err != nil {
		t.Fatalf("CONNECT %s: %v", o.ClientID, err)
	}
	code, _, err := c.connack()
	if err != nil || code != 0 {
		t.Fatalf("CONNECT %s: return code %d, error %v; server log:\n%s", o.ClientID, code, err, e.s.Logs.String())
	}
	return c
}

// pahoDevice is a paho client and what it received.
type pahoDevice struct {
	paho.Client
	msgs chan paho.Message
	lost chan error
}

// pahoConnect connects a device with Eclipse paho; it must be admitted.
func (e *attackEnv) pahoConnect(t *testing.T, cert tls.Certificate, id string) *pahoDevice {
	t.Helper()
	return connectPaho(t, e.addr, e.tlsConfig(&cert), id)
}

// connectPaho connects a device with Eclipse paho to the broker at addr;
// it must be admitted. adjust may change the options (a Will, say).
func connectPaho(t *testing.T, addr string, conf *tls.Config, id string, adjust ...func(*paho.ClientOptions)) *pahoDevice {
	t.Helper()
	d := &pahoDevice{msgs: make(chan paho.Message, 256), lost: make(chan error, 1)}
	opts := paho.NewClientOptions().
		AddBroker("ssl://" + addr).
		SetClientID(id).
		SetTLSConfig(conf).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(attackWait).
		SetWriteTimeout(attackWait).
		SetKeepAlive(time.Minute).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { d.msgs <- m }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { d.lost <- err })
	for _, a := range adjust {
		a(opts)
	}
	d.Client = paho.NewClient(opts)
	tok := d.Connect()
	if !tok.WaitTimeout(attackWait) {
		t.Fatalf("paho connect %s: no CONNACK within %s", id, attackWait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho connect %s: %v", id, err)
	}
	t.Cleanup(func() { d.Disconnect(0) })
	return d
}

// publish sends a QoS 1 message and waits for its PUBACK.
func (d *pahoDevice) publish(t *testing.T, topic, payload string, retained bool) {
	t.Helper()
	tok := d.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(attackWait) {
		t.Fatalf("publish %q: no PUBACK within %s", topic, attackWait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %q: %v", topic, err)
	}
}

// subscribe subscribes at QoS 1 and returns the SUBACK code.
func (d *pahoDevice) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := d.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(attackWait) || tok.Error() != nil {
		t.Fatalf("subscribe %q: %v", filter, tok.Error())
	}
	for _, code := range tok.(*paho.SubscribeToken).Result() {
		return code
	}
	t.Fatalf("subscribe %q: empty SUBACK", filter)
	return 0
}

// receive waits for the next message and checks it.
func (d *pahoDevice) receive(t *testing.T, topic, payload string) {
	t.Helper()
	select {
	case m := <-d.msgs:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("received %q %q, want %q %q", m.Topic(), m.Payload(), topic, payload)
		}
	case err := <-d.lost:
		t.Fatalf("connection lost while waiting for %q: %v", payload, err)
	case <-time.After(attackWait):
		t.Fatalf("no %q on %q within %s", payload, topic, attackWait)
	}
}
