package broker

import (
	"crypto/tls"
	"io"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// TestV5NotAuthorized: an MQTT 5 CONNECT refused at the checks gets
// CONNACK reason 0x87. paho.mqtt.golang speaks 3.1.1 only, so the packet is
// written by hand.
func TestV5NotAuthorized(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("v5-dev", nil)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+f.port, f.tlsConfig(&cert))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(mqttwire.ConnectOptions{ClientID: "someone-else", KeepAlive: 60, Clean: true, Level: 5}.Packet()); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatal(err)
	}
	if ack[0] != 0x20 || ack[3] != 0x87 {
		t.Fatalf("CONNACK % x, want type 0x20 and reason 0x87", ack)
	}
	f.logs.await(t, "connect refused", "reason="+reasonClientIDMismatch)
}

// TestWillOutsideACL: a Will on a foreign topic is refused at CONNECT; one
// inside the namespace is accepted.
func TestWillOutsideACL(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("willing", nil)
	_, tok := f.connect(&cert, "willing", func(o *paho.ClientOptions) { o.SetWill("devices/other/status", "gone", 1, true) })
	if tok.Error() == nil || tok.ReturnCode() != 5 {
		t.Fatalf("foreign Will: err %v, return code %d; want refusal with 5", tok.Error(), tok.ReturnCode())
	}
	f.logs.await(t, "connect refused", "reason="+reasonWillTopic)
	_, tok = f.connect(&cert, "willing", func(o *paho.ClientOptions) { o.SetWill("$SYS/broker/version", "x", 0, false) })
	if tok.ReturnCode() != 5 {
		t.Fatalf("$SYS Will: return code %d, want 5", tok.ReturnCode())
	}
	c, tok := f.connect(&cert, "willing", func(o *paho.ClientOptions) { o.SetWill("devices/willing/status", "gone", 1, false) })
	if err := tok.Error(); err != nil {
		t.Fatalf("own Will refused: %v", err)
	}
	f.roundTrip(c, "willing")
}
