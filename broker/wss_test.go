package broker

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// dialWS opens a WebSocket to the fixture's WSS listener with the gorilla
// client, offering the given subprotocols.
func (f *fixture) dialWS(cert *tls.Certificate, path string, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	f.t.Helper()
	d := websocket.Dialer{TLSClientConfig: f.tlsConfig(cert), Subprotocols: subprotocols, HandshakeTimeout: wait}
	ws, resp, err := d.Dial("wss://"+f.b.WSSAddr().String()+path, nil)
	if ws != nil {
		f.t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// upgradedWS opens a WebSocket for MQTT that must be accepted.
func (f *fixture) upgradedWS(cert *tls.Certificate) *websocket.Conn {
	f.t.Helper()
	ws, _, err := f.dialWS(cert, WSSPath, WSSSubprotocol)
	if err != nil {
		f.t.Fatal(err)
	}
	return ws
}

// TestWSSAdmitted: paho over wss:// publishes and receives as over TCP,
// with the same client-ID binding, and a device on each listener reach
// each other.
func TestWSSAdmitted(t *testing.T) {
	f := newFixture(t, withWSS)
	overTCP := f.device("tcp-dev", nil)
	overWSS := f.device("wss-dev", func(d *store.Device) { d.Subscribe = []string{"devices/tcp-dev/#"} })
	tcp := f.mustConnect(&overTCP, "tcp-dev")
	f.wss = true
	ws := f.mustConnect(&overWSS, "wss-dev")
	if got := f.listenerOf("wss-dev"); got != wssListenerID {
		t.Fatalf("wss-dev came in on %q", got)
	}
	f.roundTrip(ws, "wss-dev")
	if code := f.subscribe(ws, "devices/tcp-dev/telemetry"); code != 1 {
		t.Fatalf("SUBACK %#x", code)
	}
	f.publish(tcp, "devices/tcp-dev/telemetry", "from TCP", false)
	f.receive(ws, "devices/tcp-dev/telemetry", "from TCP")
}

// TestWSSHalfOpenClosedAtDeadline: the handshake deadline covers the HTTP
// upgrade and the wait for CONNECT after it.
func TestWSSHalfOpenClosedAtDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	f := newFixture(t, func(c *Config) { withWSS(c); c.HandshakeTimeout = timeout })
	cert := f.device("idle", nil)
	addr := f.b.WSSAddr().String()
	tlsDial := func(t *testing.T) *tls.Conn {
		conn, err := tls.Dial("tcp", addr, f.tlsConfig(&cert))
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	tests := []struct {
		name string
		dial func(t *testing.T) net.Conn
	}{
		{"ok/TLS done, no upgrade request", func(t *testing.T) net.Conn { return tlsDial(t) }},
		{"ok/upgrade request never finished", func(t *testing.T) net.Conn {
			conn := tlsDial(t)
			if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n", WSSPath); err != nil {
				t.Fatal(err)
			}
			return conn
		}},
		{"ok/upgraded, no CONNECT", func(t *testing.T) net.Conn { return f.sub(t).upgradedWS(&cert).NetConn() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { awaitClosedAtDeadline(t, tt.dial(t), timeout) })
	}
	if f.b.Connected("idle") {
		t.Fatal("idle device reported connected")
	}
}

// TestWSSMaxPending: the WSS listener shares the pending cap with the TCP
// one: upgraded sockets that never CONNECT hold slots, a new one evicts
// the oldest, and a device over WSS still gets in.
func TestWSSMaxPending(t *testing.T) {
	f := newFixture(t, func(c *Config) { withWSS(c); c.MaxPending = 2; c.HandshakeTimeout = time.Hour })
	cert := f.device("through-the-crowd", nil)
	idle := func() net.Conn { return f.upgradedWS(&cert).NetConn() }
	first := idle()
	second := idle()
	awaitPending(t, f, 2)
	// A TCP socket counts against the same cap.
	third, err := net.Dial("tcp", f.b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	awaitClosedByServer(t, first, wait)
	awaitPending(t, f, 2)

	f.wss = true
	c := f.mustConnect(&cert, "through-the-crowd")
	f.roundTrip(c, "through-the-crowd")
	awaitClosedByServer(t, second, wait)
	if n := f.b.listener.pendingCount(); n != 1 {
		t.Fatalf("pending %d with one idle socket and one authenticated device, want 1", n)
	}
}

// TestWSSUpgradeRefused: anything but a WebSocket upgrade on WSSPath
// offering the mqtt subprotocol gets an HTTP error and a closed socket;
// after the upgrade, a text message or one over MaxPacketSize ends the
// connection.
func TestWSSUpgradeRefused(t *testing.T) {
	f := newFixture(t, func(c *Config) { withWSS(c); c.MaxPacketSize = 1024 })
	cert := f.device("web", nil)

	for _, tt := range []struct {
		name, path, request string
		subprotocols        []string
		status              int
	}{
		{name: "error/wrong path", path: "/", subprotocols: []string{WSSSubprotocol}, status: http.StatusNotFound},
		{name: "error/no mqtt subprotocol", path: WSSPath, subprotocols: []string{"chat"}, status: http.StatusBadRequest},
		{name: "error/no subprotocol", path: WSSPath, status: http.StatusBadRequest},
		{name: "error/plain GET", request: "GET " + WSSPath + " HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", status: http.StatusBadRequest},
		{name: "error/foreign origin", request: "GET " + WSSPath + " HTTP/1.1\r\nHost: broker.example\r\nOrigin: https://evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", status: http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			var status int
			var conn net.Conn
			if tt.request == "" {
				ws, resp, err := f.dialWS(&cert, tt.path, tt.subprotocols...)
				if err == nil {
					t.Fatalf("upgrade accepted (subprotocol %q)", ws.Subprotocol())
				}
				if resp == nil {
					t.Fatalf("no HTTP answer: %v", err)
				}
				status = resp.StatusCode
			} else {
				tc, err := tls.Dial("tcp", f.b.WSSAddr().String(), f.tlsConfig(&cert))
				if err != nil {
					t.Fatal(err)
				}
				defer tc.Close()
				if _, err := tc.Write([]byte(tt.request)); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
				if err != nil {
					t.Fatal(err)
				}
				status, conn = resp.StatusCode, tc
			}
			if status != tt.status {
				t.Fatalf("HTTP %d, want %d", status, tt.status)
			}
			if conn != nil {
				awaitClosedByServer(t, conn, wait)
			}
		})
	}

	for _, tt := range []struct {
		name string
		send func(ws *websocket.Conn) error
	}{
		{"error/text message", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, mqttwire.Connect("web", 60, true))
		}},
		{"error/message over MaxPacketSize", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.BinaryMessage, make([]byte, 4096))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := f.sub(t).upgradedWS(&cert)
			if err := tt.send(ws); err != nil {
				t.Fatal(err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(wait))
			_, _, err := ws.ReadMessage()
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open after the bad message: %v", err)
			}
		})
	}
	if f.b.Connected("web") {
		t.Fatal("web reported connected")
	}
}

// TestWSSSplitAndJoinedPackets: MQTT over WebSockets may split a packet
// across messages or join several in one (MQTT 5.0 section 6); the
// stream reads across message boundaries.
func TestWSSSplitAndJoinedPackets(t *testing.T) {
	f := newFixture(t, withWSS)
	cert := f.device("frames", nil)
	ws := f.upgradedWS(&cert)
	connect := mqttwire.Connect("frames", 60, true)
	// CONNECT in two messages.
	for _, part := range [][]byte{connect[:5], connect[5:]} {
		if err := ws.WriteMessage(websocket.BinaryMessage, part); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(wait))
	_, msg, err := ws.ReadMessage()
	if err != nil || len(msg) != 4 || msg[0] != mqttwire.CONNACK<<4 || msg[3] != 0 {
		t.Fatalf("CONNACK %x, %v", msg, err)
	}
	// SUBSCRIBE and PUBLISH (QoS 1) in one message: SUBACK, the echo
	// and the PUBACK come back.
	topic := "devices/frames/echo"
	joined := append(mqttwire.Subscribe(1, topic, 0), mqttwire.Publish(topic, 1, 2, []byte("joined"))...)
	if err := ws.WriteMessage(websocket.BinaryMessage, joined); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&wsReader{ws: ws})
	got := map[byte]bool{}
	for len(got) < 3 {
		p, err := mqttwire.ReadPacket(r, 1<<16)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got[p.Type] = true
	}
	if !got[mqttwire.SUBACK] || !got[mqttwire.PUBLISH] || !got[mqttwire.PUBACK] {
		t.Fatalf("packet types %v, want SUBACK, PUBLISH, PUBACK", got)
	}
}

// wsReader reads the bytes of successive binary messages.
type wsReader struct {
	ws  *websocket.Conn
	buf []byte
}

func (r *wsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		_, msg, err := r.ws.ReadMessage()
		if err != nil {
			return 0, err
		}
		r.buf = msg
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// TestWSSRevocationDisconnectV5: revoking the certificate of an MQTT 5
// device on WSS sends DISCONNECT "not authorized" (0x87) in a binary
// message, then closes the connection.
func TestWSSRevocationDisconnectV5(t *testing.T) {
	f := newFixture(t, withWSS)
	cert := f.device("ws-v5", nil)
	ws := f.upgradedWS(&cert)
	if err := ws.WriteMessage(websocket.BinaryMessage, mqttwire.ConnectOptions{ClientID: "ws-v5", KeepAlive: 60, Clean: true, Level: 5}.Packet()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&wsReader{ws: ws})
	_ = ws.SetReadDeadline(time.Now().Add(wait))
	if p, err := mqttwire.ReadPacket(r, 1<<16); err != nil || p.Type != mqttwire.CONNACK || p.Body[1] != 0 {
		t.Fatalf("CONNACK %+v, %v", p, err)
	}
	if _, err := f.db.RevokeCertificate(t.Context(), fmt.Sprintf("%x", cert.Leaf.SerialNumber), "lost", actor); err != nil {
		t.Fatal(err)
	}
	p, err := mqttwire.ReadPacket(r, 1<<16)
	if err != nil || p.Type != 14 || len(p.Body) == 0 || p.Body[0] != 0x87 {
		t.Fatalf("after revocation: packet type %d body %x, %v; want DISCONNECT 0x87", p.Type, p.Body, err)
	}
	if _, err := mqttwire.ReadPacket(r, 1<<16); err == nil {
		t.Fatal("connection still open after DISCONNECT")
	}
}
