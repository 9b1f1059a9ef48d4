package broker

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// v5 is a raw MQTT 5 connection: paho.mqtt.golang speaks 3.1.1 only.
type v5 struct {
	t *testing.T
	c *tls.Conn
	r *bufio.Reader
}

// connectV5 connects id over MQTT 5 and checks the CONNACK admits it.
func (f *fixture) connectV5(cert *tls.Certificate, id string) *v5 {
	f.t.Helper()
	v, _ := f.connackV5(cert, id)
	return v
}

// connackV5 connects id over MQTT 5, checks the CONNACK admits it and
// returns it decoded.
func (f *fixture) connackV5(cert *tls.Certificate, id string) (*v5, packets.Packet) {
	f.t.Helper()
	c, err := tls.Dial("tcp", "127.0.0.1:"+f.port, f.tlsConfig(cert))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		f.t.Fatal(err)
	}
	v := &v5{t: f.t, c: c, r: bufio.NewReader(c)}
	v.send(mqttwire.ConnectOptions{ClientID: id, KeepAlive: 60, Clean: true, Level: 5}.Packet())
	p := v.next()
	if p.Type != mqttwire.CONNACK || len(p.Body) < 2 || p.Body[1] != 0 {
		f.t.Fatalf("CONNACK %+v, want success", p)
	}
	ack := packets.Packet{ProtocolVersion: 5, FixedHeader: packets.FixedHeader{Type: packets.Connack}}
	if err := ack.ConnackDecode(p.Body); err != nil {
		f.t.Fatalf("CONNACK: %v", err)
	}
	return v, ack
}

func (v *v5) send(pk []byte) {
	v.t.Helper()
	if _, err := v.c.Write(pk); err != nil {
		v.t.Fatal(err)
	}
}

func (v *v5) next() mqttwire.Packet {
	v.t.Helper()
	p, err := mqttwire.ReadPacket(v.r, 1<<20)
	if err != nil {
		v.t.Fatalf("read: %v", err)
	}
	return p
}

// publish sends an MQTT 5 QoS 0 PUBLISH without properties.
func (v *v5) publish(topic string, payload []byte) {
	v.t.Helper()
	b := append(mqttwire.AppendString(nil, topic), 0)
	v.send(mqttwire.Frame(mqttwire.PUBLISH<<4, append(b, payload...)))
}

// subscribe sends an MQTT 5 SUBSCRIBE of one filter and returns the SUBACK
// reason code.
func (v *v5) subscribe(id uint16, filter string) byte {
	v.t.Helper()
	b := append(binary.BigEndian.AppendUint16(nil, id), 0)
	v.send(mqttwire.Frame(mqttwire.SUBSCRIBE<<4|0x02, append(mqttwire.AppendString(b, filter), 1)))
	p := v.next()
	if p.Type != mqttwire.SUBACK || len(p.Body) < 4 {
		v.t.Fatalf("want SUBACK, got %+v", p)
	}
	return p.Body[len(p.Body)-1]
}

// awaitDisconnect reads until the broker's DISCONNECT and returns its
// reason code.
func (v *v5) awaitDisconnect() byte {
	v.t.Helper()
	for {
		p := v.next()
		if p.Type == mqttwire.DISCONNECT {
			if len(p.Body) == 0 {
				return 0
			}
			return p.Body[0]
		}
	}
}

// TestLimitPublishRate: a device over its message or byte rate loses the
// connection, MQTT 5 with DISCONNECT 0x96 and MQTT 3.1.1 with a closed
// socket; a device within its rate is untouched.
func TestLimitPublishRate(t *testing.T) {
	// A rate of one per 1000 s leaves only the burst: no test depends on
	// the machine's speed.
	m := NewMetrics(nil)
	f := newFixture(t, func(c *Config) {
		c.Limits = Limits{PublishRate: 0.001, PublishBurst: 3, ByteRate: 0.001}
		c.Metrics = m
	})
	t.Run("messages/v5", func(t *testing.T) {
		f := f.sub(t)
		cert := f.device("flood-5", nil)
		v := f.connectV5(&cert, "flood-5")
		for range 4 {
			v.publish("devices/flood-5/t", nil) // empty: only the message rate counts
		}
		if code := v.awaitDisconnect(); code != 0x96 {
			t.Fatalf("DISCONNECT reason %#x, want 0x96", code)
		}
		f.logs.await(t, "limit exceeded; device disconnected", "device=flood-5", "limit="+limitPublishRate)
	})
	t.Run("bytes/v3", func(t *testing.T) {
		f := f.sub(t)
		cert := f.device("flood-3", nil)
		c := f.mustConnect(&cert, "flood-3")
		// The byte burst is 1 (twice the rate, at least 1): a 2-byte payload exceeds it.
		c.Publish("devices/flood-3/t", 0, false, "xy")
		f.awaitLost(c)
		f.logs.await(t, "limit exceeded; device disconnected", "device=flood-3", "limit="+limitByteRate)
	})
	t.Run("within", func(t *testing.T) {
		f := f.sub(t)
		cert := f.device("calm", nil)
		c := f.mustConnect(&cert, "calm")
		if code := f.subscribe(c, "devices/calm/#"); code != 1 {
			t.Fatalf("subscribe: %#x", code)
		}
		f.publish(c, "devices/calm/t", "", false)
		f.receive(c, "devices/calm/t", "")
	})
	for _, limit := range []string{limitPublishRate, limitByteRate} {
		if n := testutil.ToFloat64(m.limited.WithLabelValues(limit, "disconnect")); n != 1 {
			t.Errorf("fleetgate_broker_limit_exceeded_total{limit=%q} = %v, want 1", limit, n)
		}
	}
}

// TestLimitSubscriptions: filters beyond MaxSubscriptions are refused with
// 0x97 (MQTT 5) or 0x80 (3.1.1); renewing a held one still works.
func TestLimitSubscriptions(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.MaxSubscriptions = 2 })
	cert := f.device("many", nil)
	v := f.connectV5(&cert, "many")
	for i, tt := range []struct {
		filter string
		want   byte
	}{
		{"devices/many/a", 1}, {"devices/many/b", 1}, {"devices/many/c", 0x97}, {"devices/many/a", 1},
	} {
		if code := v.subscribe(uint16(i+1), tt.filter); code != tt.want {
			t.Fatalf("v5 subscribe %q: %#x, want %#x", tt.filter, code, tt.want)
		}
	}
	f.logs.await(t, "limit exceeded; subscription refused", "device=many", "filter=devices/many/c")
	v.send(mqttwire.Disconnect)

	cert3 := f.device("many3", nil)
	c := f.mustConnect(&cert3, "many3")
	for _, tt := range []struct {
		filter string
		want   byte
	}{
		{"devices/many3/a", 1}, {"devices/many3/b", 1}, {"devices/many3/c", 0x80}, {"devices/many3/b", 1},
	} {
		if code := f.subscribe(c, tt.filter); code != tt.want {
			t.Fatalf("3.1.1 subscribe %q: %#x, want %#x", tt.filter, code, tt.want)
		}
	}
}

// TestLimitHandshakeRate: connections over one source address's rate are
// closed before the TLS handshake; another address is not affected.
func TestLimitHandshakeRate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.HandshakeRate, c.Limits.HandshakeBurst = 0.001, 2 })
	cert := f.device("hs", nil)
	from := func(ip string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) {
			o.SetDialer(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait})
		}
	}
	for i := range 2 {
		c, tok := f.connect(&cert, "hs", from("127.0.0.1"))
		if err := tok.Error(); err != nil {
			t.Fatalf("connect %d within the burst: %v", i, err)
		}
		c.Disconnect(0)
	}
	if _, tok := f.connect(&cert, "hs", from("127.0.0.1")); tok.Error() == nil {
		t.Fatal("a connection over the source's rate was admitted")
	}
	f.logs.await(t, "connection refused before the handshake", "remote=127.0.0.1:", "limit="+limitHandshakeRate)
	if _, tok := f.connect(&cert, "hs", from("127.0.0.2")); tok.Error() != nil {
		t.Fatalf("another source address was refused: %v", tok.Error())
	}
}

// TestGroupLimits: a group's limits override the broker's defaults for its
// devices, and a change applies to connected sessions.
func TestGroupLimits(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.MaxSubscriptions = 5 })
	if _, err := f.db.SetGroupLimits(t.Context(), "tight", &store.Limits{MaxSubscriptions: 1}, actor); err != nil {
		t.Fatal(err)
	}
	cert := f.device("tight-1", func(d *store.Device) { d.Group = "tight" })
	c := f.mustConnect(&cert, "tight-1")
	if code := f.subscribe(c, "devices/tight-1/a"); code != 1 {
		t.Fatalf("first subscription: %#x", code)
	}
	if code := f.subscribe(c, "devices/tight-1/b"); code != 0x80 {
		t.Fatalf("second subscription over the group's quota: %#x, want 0x80", code)
	}
	if _, err := f.db.SetGroupLimits(t.Context(), "tight", &store.Limits{MaxSubscriptions: 2}, actor); err != nil {
		t.Fatal(err)
	}
	f.logs.await(t, "ACL changed; session re-judged", "device=tight-1")
	if code := f.subscribe(c, "devices/tight-1/b"); code != 1 {
		t.Fatalf("second subscription after the group's quota grew: %#x", code)
	}
	if code := f.subscribe(c, "devices/tight-1/c"); code != 0x80 {
		t.Fatalf("third subscription: %#x, want 0x80", code)
	}
}

// TestLimitConnectRate: an identity over its CONNECTs per minute is
// refused (3.1.1 return code 3, MQTT 5 CONNACK 0x97); another identity is
// not affected; a group's value replaces the default for its devices.
func TestLimitConnectRate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.ConnectsPerMinute = 2 })
	cert := f.device("eager", nil)
	for range 2 {
		c := f.mustConnect(&cert, "eager")
		c.Disconnect(0)
	}
	if _, tok := f.connect(&cert, "eager", nil); tok.ReturnCode() != 3 {
		t.Fatalf("third CONNECT in a minute: return code %d (%v), want 3", tok.ReturnCode(), tok.Error())
	}
	f.logs.await(t, "connect refused", "device=eager", "reason="+reasonConnectRate)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+f.port, f.tlsConfig(&cert))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v := &v5{t: t, c: conn, r: bufio.NewReader(conn)}
	v.send(mqttwire.ConnectOptions{ClientID: "eager", KeepAlive: 60, Clean: true, Level: 5}.Packet())
	if p := v.next(); p.Type != mqttwire.CONNACK || len(p.Body) < 2 || p.Body[1] != 0x97 {
		t.Fatalf("MQTT 5 CONNACK %+v, want reason 0x97", p)
	}
	other := f.device("patient", nil)
	f.mustConnect(&other, "patient")

	// A group's connects per minute replace the default for its devices.
	if _, err := f.db.SetGroupLimits(t.Context(), "chatty", &store.Limits{ConnectsPerMinute: 3}, actor); err != nil {
		t.Fatal(err)
	}
	chatty := f.device("chatty-1", func(d *store.Device) { d.Group = "chatty" })
	for range 3 {
		f.mustConnect(&chatty, "chatty-1").Disconnect(0)
	}
	if _, tok := f.connect(&chatty, "chatty-1", nil); tok.ReturnCode() != 3 {
		t.Fatalf("fourth CONNECT of a group allowing 3: return code %d (%v), want 3", tok.ReturnCode(), tok.Error())
	}
	f.logs.await(t, "connect refused", "device=chatty-1", "reason="+reasonConnectRate)
}
