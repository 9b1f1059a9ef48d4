package agent

import (
	"crypto/tls"
	"net"
	"net/url"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestSoftwareDevice follows a software-key device from its token to a
// clean stop: enrollment, connection with the enrolled certificate, the
// retained status, a publish the broker acknowledges, a command it
// receives, and "offline" at the stop.
func TestSoftwareDevice(t *testing.T) {
	srv := newServer(t)
	obs := srv.observer(t, "devices/sw-1/#")
	ev := newEvents()
	cfg := softwareConfig(t, srv, "sw-1", srv.Token("boards"), ev)
	cfg.Subscribe = []string{"cmd/#"}
	a := start(t, cfg)

	enrolled := await(t, ev.enrolled, "enrollment")
	if enrolled.Attestation != KeySoftware || enrolled.Serial == "" {
		t.Errorf("enrolled %+v", enrolled)
	}
	if got := await(t, ev.connected, "connection"); got != enrolled.Serial {
		t.Errorf("connected with serial %q, enrolled %q", got, enrolled.Serial)
	}
	if m := obs.next(t, "devices/sw-1/status"); string(m.Payload()) != "online" {
		t.Errorf("status %q", m.Payload())
	}
	// A client that subscribes later gets the status as retained.
	if m := srv.observer(t, "devices/sw-1/status").next(t, "devices/sw-1/status"); string(m.Payload()) != "online" || !m.Retained() {
		t.Errorf("retained status %q, retained=%v", m.Payload(), m.Retained())
	}

	if err := a.Publish("data/temp", 1, []byte("21.5")); err != nil {
		t.Fatal(err)
	}
	if got := await(t, ev.published, "publish ack"); got != "devices/sw-1/data/temp" {
		t.Errorf("published %q", got)
	}
	if m := obs.next(t, "devices/sw-1/data/temp"); string(m.Payload()) != "21.5" {
		t.Errorf("observer got %q", m.Payload())
	}

	if tok := obs.client.Publish("devices/sw-1/cmd/reboot", 1, false, "now"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("command publish: %v", tok.Error())
	}
	if m := await(t, ev.messages, "command"); m != [2]string{"devices/sw-1/cmd/reboot", "now"} {
		t.Errorf("message %q", m)
	}

	if err := a.stop(t); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	if m := obs.next(t, "devices/sw-1/status"); string(m.Payload()) != "offline" {
		t.Errorf("status after stop %q", m.Payload())
	}
	if err := await(t, ev.disconnected, "disconnect event"); err != nil {
		t.Errorf("a clean stop reported %v", err)
	}
	if late := srv.observer(t, "devices/sw-1/status").next(t, "devices/sw-1/status"); string(late.Payload()) != "offline" {
		t.Errorf("retained status after stop %q", late.Payload())
	}
}

// TestConnectionLoss cuts the device's TCP connection under it: the broker
// publishes the Will ("offline"), the agent reports the loss, reconnects
// by itself after a backoff and says "online" again.
func TestConnectionLoss(t *testing.T) {
	srv := newServer(t)
	obs := srv.observer(t, "devices/sw-2/status")
	ev := newEvents()
	cfg := softwareConfig(t, srv, "sw-2", srv.Token("boards"), ev)
	conns := make(chan net.Conn, 10)
	cfg.MQTTOptions = func(o *mqtt.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(uri *url.URL, opts mqtt.ClientOptions) (net.Conn, error) {
			raw, err := net.DialTimeout("tcp", uri.Host, opts.ConnectTimeout)
			if err != nil {
				return nil, err
			}
			conns <- raw
			tc := opts.TLSConfig.Clone()
			tc.ServerName = uri.Hostname()
			c := tls.Client(raw, tc)
			if err := c.Handshake(); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		})
	}
	start(t, cfg)
	await(t, ev.connected, "connection")
	if m := obs.next(t, "devices/sw-2/status"); string(m.Payload()) != "online" {
		t.Fatalf("status %q", m.Payload())
	}

	// Shut the socket down rather than close it: paho takes a read on a
	// closed socket for its own doing and reports no loss, while a
	// network failure shows up as EOF or a reset.
	raw := await(t, conns, "dial").(*net.TCPConn)
	raw.CloseWrite()
	raw.CloseRead()
	if err := await(t, ev.disconnected, "loss"); err == nil {
		t.Error("the loss was reported without an error")
	}
	if m := obs.next(t, "devices/sw-2/status"); string(m.Payload()) != "offline" {
		t.Errorf("Will %q", m.Payload())
	}
	await(t, ev.connected, "reconnection")
	if m := obs.next(t, "devices/sw-2/status"); string(m.Payload()) != "online" {
		t.Errorf("status after reconnect %q", m.Payload())
	}
}
