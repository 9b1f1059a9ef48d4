package broker

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// client is a paho MQTT 3.1.1 client and what it observed.
type client struct {
	paho.Client
	lost     chan error        // connection-lost handler
	messages chan paho.Message // every message received
	mu       sync.Mutex
	lostTime time.Time
}

// clientOptions are the fixture's paho settings for a device.
func (f *fixture) clientOptions(cert *tls.Certificate, clientID string) *paho.ClientOptions {
	url := "ssl://127.0.0.1:" + f.port
	if f.wss {
		url = "wss://127.0.0.1:" + f.wssPort + WSSPath
	}
	return paho.NewClientOptions().
		AddBroker(url).
		SetClientID(clientID).
		SetTLSConfig(f.tlsConfig(cert)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(wait).
		SetWriteTimeout(wait).
		SetKeepAlive(time.Minute).
		SetOrderMatters(true) // messages reach the test in arrival order
}

// connect dials the broker as a device; adjust may change the options. It
// returns the client and the connect token (whose error and ReturnCode the
// caller judges). The client is disconnected at cleanup.
func (f *fixture) connect(cert *tls.Certificate, clientID string, adjust func(*paho.ClientOptions)) (*client, *paho.ConnectToken) {
	f.t.Helper()
	c := &client{lost: make(chan error, 1), messages: make(chan paho.Message, 100)}
	opts := f.clientOptions(cert, clientID).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.mu.Lock()
			c.lostTime = time.Now()
			c.mu.Unlock()
			c.lost <- err
		}).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { c.messages <- m })
	if adjust != nil {
		adjust(opts)
	}
	c.Client = paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		f.t.Fatalf("connect %q: no answer within %s", clientID, wait)
	}
	f.t.Cleanup(func() { c.Disconnect(0) })
	return c, tok.(*paho.ConnectToken)
}

// mustConnect connects a device that must be admitted.
func (f *fixture) mustConnect(cert *tls.Certificate, clientID string) *client {
	f.t.Helper()
	c, tok := f.connect(cert, clientID, nil)
	if err := tok.Error(); err != nil {
		f.t.Fatalf("connect %q: %v (return code %d)", clientID, err, tok.ReturnCode())
	}
	if !f.b.Connected(clientID) {
		f.t.Fatalf("broker does not report %q connected after CONNACK", clientID)
	}
	return c
}

// subscribe subscribes at QoS 1 and returns the SUBACK return code.
func (f *fixture) subscribe(c *client, filter string) byte {
	f.t.Helper()
	return f.subscribeQoS(c, filter, 1)
}

// subscribeQoS subscribes and returns the SUBACK return code.
func (f *fixture) subscribeQoS(c *client, filter string, qos byte) byte {
	f.t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(wait) {
		f.t.Fatalf("subscribe %q: no SUBACK within %s", filter, wait)
	}
	if err := tok.Error(); err != nil {
		f.t.Fatalf("subscribe %q: %v", filter, err)
	}
	// One filter per SUBSCRIBE, so one result; paho keys it by the filter
	// without its $share/<group>/ prefix.
	res := tok.(*paho.SubscribeToken).Result()
	if len(res) != 1 {
		f.t.Fatalf("subscribe %q: %d results, want 1", filter, len(res))
	}
	for _, code := range res {
		return code
	}
	return 0
}

// publish publishes at QoS 1 and waits for the PUBACK.
func (f *fixture) publish(c *client, topic, payload string, retained bool) {
	f.t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(wait) {
		f.t.Fatalf("publish %q: no PUBACK within %s", topic, wait)
	}
	if err := tok.Error(); err != nil {
		f.t.Fatalf("publish %q: %v", topic, err)
	}
}

// receive waits for the next message and checks its topic and payload.
func (f *fixture) receive(c *client, topic, payload string) {
	f.t.Helper()
	select {
	case m := <-c.messages:
		if m.Topic() != topic || string(m.Payload()) != payload {
			f.t.Fatalf("received %q %q, want %q %q", m.Topic(), m.Payload(), topic, payload)
		}
	case err := <-c.lost:
		f.t.Fatalf("connection lost while waiting for %q: %v", topic, err)
	case <-time.After(wait):
		f.t.Fatalf("no message on %q within %s", topic, wait)
	}
}

// roundTrip proves a device is connected and served: it subscribes to its
// own namespace, publishes there and receives its message back. Messages
// are QoS 1, so the PUBACK orders them after everything sent before.
func (f *fixture) roundTrip(c *client, id string) {
	f.t.Helper()
	topic := "devices/" + id + "/echo"
	if code := f.subscribe(c, topic); code != 1 {
		f.t.Fatalf("subscribe %q: return code %#x, want 1", topic, code)
	}
	payload := fmt.Sprintf("ping %d", time.Now().UnixNano())
	f.publish(c, topic, payload, false)
	f.receive(c, topic, payload)
	if !f.b.Connected(id) {
		f.t.Fatalf("broker does not report %q connected", id)
	}
}

// awaitLost waits for the connection-lost handler and returns when it
// fired.
func (f *fixture) awaitLost(c *client) time.Time {
	f.t.Helper()
	select {
	case <-c.lost:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lostTime
	case <-time.After(wait):
		f.t.Fatalf("connection not lost within %s", wait)
	}
	return time.Time{}
}
