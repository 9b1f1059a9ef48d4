package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Status payloads on devices/<id>/<StatusTopic>, retained: "online" after
// each connect, "offline" at a clean stop and, as the Will, when the
// broker loses the device.
var (
	statusOnline  = []byte("online")
	statusOffline = []byte("offline")
)

// newClient builds a paho client for the broker at addr, and the channel
// on which it reports the loss of its connection. Paho's own reconnects
// (and its own walk through several servers) are off: the runner
// reconnects, with jitter, picks the broker, and stops on a refusal. The
// session is persistent (CleanSession false) so subscriptions and
// messages for the device survive reconnects; outbound messages are kept
// by the outbox, not by paho (noStore). TLS checks the broker's
// certificate against the host of addr and roots.
func (r *runner) newClient(addr string, roots *x509.CertPool) (mqtt.Client, <-chan error) {
	cfg := r.cfg
	lost := make(chan error, 1)
	o := mqtt.NewClientOptions()
	o.AddBroker("tls://" + addr)
	o.SetClientID(cfg.DeviceID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(false)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetConnectTimeout(cfg.ConnectTimeout.Duration)
	o.SetKeepAlive(cfg.KeepAlive.Duration)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr // Validate checked the address; paho reports a bad one
	}
	o.SetTLSConfig(&tls.Config{
		// Set here, so a dialer given through MQTTOptions can use the
		// configuration as it is, without a copy per connection.
		ServerName:           host,
		RootCAs:              roots,
		GetClientCertificate: r.a.mqttCertificate,
		MinVersion:           tls.VersionTLS12,
	})
	o.SetBinaryWill(r.a.topic(cfg.StatusTopic), statusOffline, 1, true)
	o.SetStore(noStore{})
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		if h := cfg.Hooks.OnMessage; h != nil {
			h(m.Topic(), m.Payload())
		}
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case lost <- err:
		default: // one pending loss is enough to act on
		}
	})
	if cfg.MQTTOptions != nil {
		cfg.MQTTOptions(o)
	}
	return mqtt.NewClient(o), lost
}

// errRefusedByBroker is a CONNACK refusal: the broker will not take this
// certificate or identity until an operator acts.
var errRefusedByBroker = errors.New("broker refused the connection")

// connect makes one connection attempt and, once accepted, announces the
// device and subscribes.
func (r *runner) connect(ctx context.Context, client mqtt.Client) error {
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		client.Disconnect(0)
		return ctx.Err()
	}
	ct := tok.(*mqtt.ConnectToken)
	if err := tok.Error(); err != nil {
		switch ct.ReturnCode() {
		case packets.ErrRefusedNotAuthorised, packets.ErrRefusedBadUsernameOrPassword, packets.ErrRefusedIDRejected:
			return fmt.Errorf("%w: %w (CONNACK %d)", errRefusedByBroker, err, ct.ReturnCode())
		}
		return err
	}
	client.Publish(r.a.topic(r.cfg.StatusTopic), 1, true, statusOnline)
	// Subscribing again on a kept session is harmless and picks up a
	// changed configuration.
	if len(r.cfg.Subscribe) == 0 {
		return nil
	}
	filters := make(map[string]byte, len(r.cfg.Subscribe))
	for _, s := range r.cfg.Subscribe {
		filters[r.a.topic(s)] = 1
	}
	st := client.SubscribeMultiple(filters, nil)
	wait := time.NewTimer(r.cfg.ConnectTimeout.Duration)
	defer wait.Stop()
	select {
	case <-st.Done():
	case <-wait.C:
		r.log.Warn("no answer to SUBSCRIBE; the session goes on")
		return nil
	case <-ctx.Done():
		return nil // the session loop sees ctx and stops
	}
	if err := st.Error(); err != nil {
		r.log.Warn("subscribe failed; the session goes on", "err", err)
		return nil
	}
	for f, q := range st.(*mqtt.SubscribeToken).Result() {
		if q > 1 {
			r.log.Warn("the broker refused a subscription", "filter", f, "code", q)
		}
	}
	return nil
}
