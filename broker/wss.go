package broker

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// MQTT over secure WebSockets. The WSS listener is the TCP listener
// (listener.go) with one more step: after the TLS handshake, under the
// same deadline and while the connection still holds its pending slot, it
// reads one HTTP request and upgrades it to a WebSocket. mochi then reads
// MQTT from the WebSocket's binary messages through the same *conn, whose
// ConnectionState is the TLS state of the handshake, so the admission
// checks (decide.go), the client-ID binding, the ACL and revocation are
// the TCP listener's, not a copy.

// wssListenerID names the WSS listener inside mochi.
const wssListenerID = "wss"

// WSSPath is the HTTP path of the WebSocket upgrade, and WSSSubprotocol
// the WebSocket subprotocol a client must offer (MQTT 5.0 section 6).
const (
	WSSPath        = "/mqtt"
	WSSSubprotocol = "mqtt"
)

// maxUpgradeRequest bounds the HTTP upgrade request (request line and
// headers), as net/http's MaxHeaderBytes does: a client cannot make the
// broker buffer more than this before it has sent CONNECT.
const maxUpgradeRequest = 8 << 10

// errUpgrade: the HTTP request was not a WebSocket upgrade for MQTT.
var errUpgrade = errors.New("not an MQTT WebSocket upgrade")

// wsUpgrader turns an accepted TLS connection into a WebSocket stream.
type wsUpgrader struct {
	u         websocket.Upgrader
	readLimit int64 // the broker's max packet size: larger messages close the connection
}

// newWSSListener returns the WSS listener: the TCP listener's accept loop,
// pending set, deadline and shutdown, plus the upgrade.
func newWSSListener(addr string, tlsConf *tls.Config, timeout func() time.Duration, pending *pendingSet, maxPacket uint32, log *slog.Logger) *listener {
	l := newListener(addr, tlsConf, timeout, pending, log)
	l.id, l.protocol = wssListenerID, "wss"
	l.ws = &wsUpgrader{
		u: websocket.Upgrader{
			// Small buffers: one per connection, like mochi's bufio ones.
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			Subprotocols:    []string{WSSSubprotocol},
			// CheckOrigin stays gorilla's default: no Origin header (any
			// non-browser client) or one naming this host. A web page
			// elsewhere cannot borrow a browser's client certificate.
			Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
				if hw, ok := w.(*hijackWriter); ok {
					hw.fail(status)
				}
			},
		},
		readLimit: int64(maxPacket),
	}
	return l
}

// upgrade reads the HTTP upgrade request from s's TLS connection and
// answers it. Any request other than a WebSocket upgrade on WSSPath
// offering the mqtt subprotocol gets an HTTP error and an error here,
// and the listener closes the connection.
func (w *wsUpgrader) upgrade(s *wsStream) error {
	br := bufio.NewReaderSize(&io.LimitedReader{R: s.Conn, N: maxUpgradeRequest}, 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		return fmt.Errorf("read upgrade request: %w", err)
	}
	hw := &hijackWriter{c: brokerDeadlines{s.Conn}, brw: bufio.NewReadWriter(br, bufio.NewWriterSize(s.Conn, 512)), h: http.Header{}}
	switch {
	case req.URL.Path != WSSPath:
		hw.fail(http.StatusNotFound)
		return fmt.Errorf("%w: path %q", errUpgrade, req.URL.Path)
	case !slices.Contains(websocket.Subprotocols(req), WSSSubprotocol):
		hw.fail(http.StatusBadRequest)
		return fmt.Errorf("%w: subprotocol %q not offered", errUpgrade, WSSSubprotocol)
	}
	ws, err := w.u.Upgrade(hw, req, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", errUpgrade, err)
	}
	ws.SetReadLimit(w.readLimit)
	s.ws = ws
	return nil
}

// hijackWriter is the http.ResponseWriter of one upgrade request read
// straight from the connection: gorilla hijacks it at once, or calls
// Upgrader.Error, which answers with a bare status.
type hijackWriter struct {
	c   net.Conn
	brw *bufio.ReadWriter
	h   http.Header
}

var _ http.Hijacker = (*hijackWriter)(nil)

func (w *hijackWriter) Header() http.Header         { return w.h }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil } // bodies are not sent
func (w *hijackWriter) WriteHeader(int)             {}

// Hijack hands gorilla the connection and the reader that holds what was
// read of it.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.c, w.brw, nil }

// brokerDeadlines is the connection as gorilla sees it. gorilla clears
// the deadlines at the upgrade and sets its own write deadline for every
// frame, which would undo the listener's handshake deadline, mochi's
// keepalive deadline and the write bounds of drop and shutdown. So only
// the broker sets deadlines, on the TLS connection itself (wsStream embeds
// it), and gorilla's calls do nothing.
type brokerDeadlines struct{ net.Conn }

func (brokerDeadlines) SetDeadline(time.Time) error      { return nil }
func (brokerDeadlines) SetReadDeadline(time.Time) error  { return nil }
func (brokerDeadlines) SetWriteDeadline(time.Time) error { return nil }

// fail answers the request with status and no body.
func (w *hijackWriter) fail(status int) {
	_, _ = fmt.Fprintf(w.c, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\nSec-WebSocket-Version: 13\r\n\r\n",
		status, http.StatusText(status))
}
