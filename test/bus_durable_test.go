package test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestBusDurable: three brokers on a 3-member etcd and a 3-node NATS
// cluster with JetStream. QoS 1 crosses brokers as QoS 1; a persistent
// session moves with its device to another broker (subscriptions without
// a new SUBSCRIBE, and the messages queued while it was away), also when
// its broker is SIGKILLed; a revoked device's session record is deleted;
// and with a NATS node SIGKILLed under QoS 1 traffic every message a
// publisher got PUBACK for reaches a persistent subscriber.
func TestBusDurable(t *testing.T) {
	nc := natstest.StartCluster(t, 3)
	f := startFleetAPI(t)
	// One NATS node each: the client finds the others from the cluster.
	a := f.startBroker(t, f.api.DataDir, "--bus", nc.Nodes[1].URL)
	b := f.startBroker(t, f.api.DataDir, "--bus", nc.Nodes[0].URL)
	c := f.startBroker(t, f.api.DataDir, "--bus", nc.Nodes[2].URL)
	probe, err := bus.Dial(bus.Options{URLs: nc.Nodes[2].URL, Origin: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	backendCert, _, _ := f.device(t, "backend", "--publish", "devices/#", "--subscribe", "devices/#")
	backend, _ := f.session(t, b, backendCert, "backend", true)

	t.Run("QoS 0 and 1 from A reach B", func(t *testing.T) {
		cert, _, _ := f.device(t, "dev-q")
		dev, _ := f.session(t, a, cert, "dev-q", true)
		subCert, _, _ := f.device(t, "backend-q", "--subscribe", "devices/#")
		sub, _ := f.session(t, b, subCert, "backend-q", true)
		if code := sub.subscribe(t, 1, "devices/dev-q/#", 1); code != 1 {
			t.Fatalf("SUBACK %#x, want QoS 1 granted", code)
		}
		const stores = "fleetgate_bus_store_seconds_count"
		before := metric(t, a, stores)
		if err := publishAcked(dev, 1, "devices/dev-q/t", "q1"); err != nil {
			t.Fatal(err)
		}
		// The wait for the stream before PUBACK is observed where the
		// device published.
		if after := metric(t, a, stores); before < 0 || after < before+1 {
			t.Errorf("%s on A: %v before the QoS 1 PUBLISH, %v after, want at least one more", stores, before, after)
		}
		if err := dev.send(mqttwire.Publish("devices/dev-q/t", 0, 0, []byte("q0"))); err != nil {
			t.Fatal(err)
		}
		got := sub.awaitPayload(t, "q0")
		if i := slices.IndexFunc(got, func(m publishMsg) bool { return m.payload == "q1" }); i < 0 || got[i].qos != 1 {
			t.Fatalf("B's subscriber got %+v, want q1 at QoS 1 before q0", got)
		}
	})

	t.Run("session moves to another broker with its subscriptions and queue", func(t *testing.T) {
		cert, dev := f.subscribed(t, a, probe, "dev-m")
		dev.Close()
		for i := 1; i <= 3; i++ {
			if err := publishAcked(backend, uint16(i), "devices/dev-m/cmd", fmt.Sprint("cmd-", i)); err != nil {
				t.Fatal(err)
			}
		}
		moved, present := f.session(t, c, cert, "dev-m", false)
		if !present {
			t.Fatal("reconnect on C: session not present")
		}
		collect(t, moved, "devices/dev-m/", "cmd-1", "cmd-2", "cmd-3")
		// The subscription came with it: no SUBSCRIBE on C.
		if err := publishAcked(backend, 4, "devices/dev-m/cmd", "cmd-4"); err != nil {
			t.Fatal(err)
		}
		collect(t, moved, "devices/dev-m/", "cmd-4")
		// Acknowledged, cmd-4 moves the record's cursor past it (a later
		// move does not send it again).
		var seq uint64
		if _, err := probe.Replay(context.Background(), []string{"devices/dev-m/cmd"}, 0, 16, func(d bus.Delivery) { seq = max(seq, d.Seq) }); err != nil || seq == 0 {
			t.Fatalf("stream sequence of cmd-4: %d, %v", seq, err)
		}
		awaitCursor(t, probe, "dev-m", seq)
	})

	t.Run("MQTT 5 session expiry: mosquitto_sub's session moves", func(t *testing.T) {
		_, certFile, keyFile := f.device(t, "dev-5")
		args := []string{"-V", "mqttv5", "-c", "-x", "600", "-q", "1", "-t", "devices/dev-5/cmd"}
		first := a.startSub(t, "dev-5", certFile, keyFile, args...)
		first.waitFor(t, "SUBACK")
		awaitRecord(t, probe, "dev-5", "devices/dev-5/cmd")
		if err := first.cmd.Process.Signal(syscall.SIGINT); err != nil { // DISCONNECT; the session stays 600 s
			t.Fatal(err)
		}
		first.waitExit(t, attackWait)
		for i := 1; i <= 2; i++ {
			if err := publishAcked(backend, uint16(30+i), "devices/dev-5/cmd", fmt.Sprint("v5-", i)); err != nil {
				t.Fatal(err)
			}
		}
		// The queue is resent right after CONNACK, in no fixed order.
		second := b.startSub(t, "dev-5", certFile, keyFile, args...)
		want := map[string]bool{"v5-1": true, "v5-2": true}
		for len(want) > 0 {
			delete(want, strings.TrimSpace(second.waitFor(t, "v5-")))
		}
	})

	t.Run("broker SIGKILLed: the device gets its queue on the next broker", func(t *testing.T) {
		cert, dev := f.subscribed(t, c, probe, "dev-k")
		if err := publishAcked(backend, 10, "devices/dev-k/cmd", "k-1"); err != nil {
			t.Fatal(err)
		}
		collect(t, dev, "devices/dev-k/", "k-1")
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-c.Exited()
		expectClosedMQTT(t, dev, "device on the killed broker")
		for i := 2; i <= 4; i++ {
			if err := publishAcked(backend, uint16(10+i), "devices/dev-k/cmd", fmt.Sprint("k-", i)); err != nil {
				t.Fatal(err)
			}
		}
		moved, present := f.session(t, a, cert, "dev-k", false)
		if !present {
			t.Fatal("failover to A: session not present")
		}
		collect(t, moved, "devices/dev-k/", "k-2", "k-3", "k-4")
	})

	t.Run("revocation deletes the session record", func(t *testing.T) {
		cert, dev := f.subscribed(t, a, probe, "dev-r")
		dev.Close()
		if err := publishAcked(backend, 20, "devices/dev-r/cmd", "r-1"); err != nil {
			t.Fatal(err)
		}
		f.api.forTest(t).MustCtl("device", "revoke", "dev-r", "--reason", "test")
		deadline := time.Now().Add(attackWait)
		for {
			_, _, err := probe.LoadSession(context.Background(), "dev-r")
			if errors.Is(err, bus.ErrNoSession) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session record of the revoked device still there: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code, err := f.connect(b, cert, "dev-r"); code == 0 {
			t.Fatalf("revoked device admitted on B (%v)", err)
		}
	})

	t.Run("NATS node SIGKILLed under QoS 1 traffic: no acknowledged message lost", func(t *testing.T) {
		natsKill(t, f, nc, a, b, probe)
	})

	t.Run("no NATS: QoS 1 refused, not acknowledged", func(t *testing.T) {
		cert, _, _ := f.device(t, "dev-x")
		v3, _ := f.session(t, a, cert, "dev-x", true)
		cert5, _, _ := f.device(t, "dev-x5")
		v5 := f.sessionV5(t, a, cert5, "dev-x5")
		nc.Kill(1)
		nc.Kill(2)
		if err := v3.send(mqttwire.Publish("devices/dev-x/t", 1, 1, []byte("lost"))); err != nil {
			t.Fatal(err)
		}
		expectRefusedV5(t, v5, "devices/dev-x5/t", "lost")
		expectClosedMQTT(t, v3, "MQTT 3.1.1 publisher whose message the bus could not store")
		for _, m := range v3.published {
			t.Fatalf("MQTT 3.1.1 publisher got %+v", m)
		}
	})
}

// sessionV5 connects id with MQTT 5, clean start, and no properties.
func (f *fleet) sessionV5(t *testing.T, b *server, cert tls.Certificate, id string) *mqttConn {
	t.Helper()
	c, err := f.dialConnect(t, b, cert, mqttwire.ConnectOptions{ClientID: id, KeepAlive: 60, Clean: true, Level: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.await("CONNACK", func(p mqttwire.Packet) bool { return p.Type == mqttwire.CONNACK })
	if err != nil || len(p.Body) < 2 || p.Body[1] != 0 {
		t.Fatalf("MQTT 5 CONNECT %s: % x, %v", id, p.Body, err)
	}
	return c
}

// expectRefusedV5 publishes payload at QoS 1 (packet 7) on an MQTT 5
// connection and expects the PUBACK to refuse it with 0x80 (unspecified
// error).
func expectRefusedV5(t *testing.T, c *mqttConn, topic, payload string) {
	t.Helper()
	// MQTT 5: PUBLISH with empty properties; PUBACK carries a reason.
	body := mqttwire.AppendString(nil, topic)
	body = append(body, 0, 7, 0)
	if err := c.send(mqttwire.Frame(mqttwire.PUBLISH<<4|2, append(body, payload...))); err != nil {
		t.Fatal(err)
	}
	p, err := c.await("PUBACK", func(p mqttwire.Packet) bool { return p.Type == mqttwire.PUBACK })
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Body) < 3 || mqttwire.PacketID(p) != 7 || p.Body[2] != 0x80 {
		t.Fatalf("MQTT 5 PUBACK % x, want packet 7 with reason 0x80", p.Body)
	}
}

// natsKill publishes QoS 1 from a device on A to a persistent subscriber
// on B and kills B's NATS node after the first acknowledgements.
func natsKill(t *testing.T, f *fleet, nc *natstest.Cluster, a, b *server, probe *bus.Conn) {
	cert, _, _ := f.device(t, "dev-p")
	subCert, _, _ := f.device(t, "sink", "--subscribe", "devices/#")
	sub, _ := f.session(t, b, subCert, "sink", false)
	if code := sub.subscribe(t, 1, "devices/dev-p/#", 1); code != 1 {
		t.Fatalf("SUBACK %#x", code)
	}
	awaitRecord(t, probe, "sink", "devices/dev-p/#")

	var mu sync.Mutex
	received := map[string]bool{}
	go func() {
		for {
			p, err := sub.next()
			if err != nil {
				return
			}
			if m, err := decodePublish(p); err == nil {
				_ = sub.send(mqttwire.Puback(m.id))
				mu.Lock()
				received[m.payload] = true
				mu.Unlock()
			}
		}
	}()

	const n = 400
	var acked []string
	var refused int
	dev, _ := f.session(t, a, cert, "dev-p", true)
	for i := range n {
		payload := fmt.Sprint("p-", i)
		if i == 50 {
			nc.Kill(0)
		}
		if err := publishAcked(dev, uint16(i%60000+1), "devices/dev-p/t", payload); err != nil {
			refused++ // not acknowledged: the publisher would send it again
			dev.Close()
			dev, _ = f.session(t, a, cert, "dev-p", true)
			continue
		}
		acked = append(acked, payload)
	}
	deadline := time.Now().Add(attackWait)
	for {
		mu.Lock()
		var missing []string
		for _, p := range acked {
			if !received[p] {
				missing = append(missing, p)
			}
		}
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never arrived: %v", len(missing), len(acked), missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d messages acknowledged and received, %d refused while the bus recovered", len(acked), refused)
	if len(acked) < n/2 {
		t.Fatalf("only %d of %d messages acknowledged", len(acked), n)
	}
}

// session connects id to a broker with a clean or persistent session; it
// must be admitted. It returns the connection (closed at cleanup) and
// whether the broker had a session for it.
func (f *fleet) session(t *testing.T, b *server, cert tls.Certificate, id string, clean bool) (*mqttConn, bool) {
	t.Helper()
	c, err := f.dialConnect(t, b, cert, mqttwire.ConnectOptions{ClientID: id, KeepAlive: 60, Clean: clean})
	var code byte
	var present bool
	if err == nil {
		code, present, err = c.connack()
	}
	if err != nil || code != 0 {
		t.Fatalf("CONNECT %s (clean %v): code %d, %v", id, clean, code, err)
	}
	return c, present
}

// subscribed registers a device, connects it to b with a persistent
// session (which must be new), subscribes it to devices/<id>/cmd at QoS 1
// and waits until its session record holds the subscription.
func (f *fleet) subscribed(t *testing.T, b *server, probe *bus.Conn, id string) (tls.Certificate, *mqttConn) {
	t.Helper()
	cert, _, _ := f.device(t, id)
	dev, present := f.session(t, b, cert, id, false)
	if present {
		t.Fatalf("first connect of %s: session present", id)
	}
	filter := "devices/" + id + "/cmd"
	if code := dev.subscribe(t, 1, filter, 1); code != 1 {
		t.Fatalf("%s SUBACK %#x, want QoS 1 granted", id, code)
	}
	awaitRecord(t, probe, id, filter)
	return cert, dev
}

// dialConnect opens a TLS connection to a broker as cert and sends the
// CONNECT o; the connection is closed at cleanup.
func (f *fleet) dialConnect(t *testing.T, b *server, cert tls.Certificate, o mqttwire.ConnectOptions) (*mqttConn, error) {
	conf := &tls.Config{RootCAs: f.roots, ServerName: "127.0.0.1",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
	c, err := dialMQTT(b.MQTT, conf)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	if err == nil {
		err = c.send(o.Packet())
	}
	return c, err
}

// publishAcked publishes at QoS 1 and waits for the PUBACK.
func publishAcked(c *mqttConn, id uint16, topic, payload string) error {
	if err := c.send(mqttwire.Publish(topic, 1, id, []byte(payload))); err != nil {
		return err
	}
	_, err := c.await("PUBACK", func(p mqttwire.Packet) bool {
		return p.Type == mqttwire.PUBACK && mqttwire.PacketID(p) == id
	})
	return err
}

// awaitCursor waits until id's session record has its cursor at seq or
// later.
func awaitCursor(t *testing.T, probe *bus.Conn, id string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(attackWait)
	for {
		rec, _, err := probe.LoadSession(context.Background(), id)
		if err == nil && rec.Cursor >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session record of %s: cursor never reached %d: %+v, %v", id, seq, rec, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitRecord waits until a client's session record on the bus holds
// filter, so that another broker would restore it.
func awaitRecord(t *testing.T, probe *bus.Conn, id, filter string) {
	t.Helper()
	deadline := time.Now().Add(attackWait)
	for {
		rec, _, err := probe.LoadSession(context.Background(), id)
		if err == nil && slices.ContainsFunc(rec.Subs, func(s bus.SessionSub) bool { return s.Filter == filter }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session record of %s never held %s: %+v, %v", id, filter, rec, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
