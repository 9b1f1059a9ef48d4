package broker

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/gorilla/websocket"
)

// errTextMessage: a WebSocket text message where MQTT allows only binary
// ones (MQTT 5.0 section 6).
var errTextMessage = errors.New("websocket: MQTT is carried in binary messages only")

// wsStream is the byte stream mochi reads MQTT from on the WSS listener.
// It embeds the TLS connection, so that Close, deadlines and addresses act
// on the socket itself (Close and SetDeadline may come from any
// goroutine, before or after the upgrade); Read and Write go through the
// WebSocket, which upgrade sets before mochi sees the stream.
//
// A WebSocket message may hold several MQTT packets or part of one, so
// Read runs across message boundaries. mochi serialises its writes (under
// the client's lock), which is all gorilla asks; ping answers are control
// frames, which gorilla allows alongside.
type wsStream struct {
	net.Conn // the *tls.Conn
	ws       *websocket.Conn
	r        io.Reader // the message being read, nil between messages
}

var _ net.Conn = (*wsStream)(nil)

// Read reads the next bytes of the MQTT stream.
func (s *wsStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if s.r == nil {
			typ, r, err := s.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, fmt.Errorf("%w (got type %d)", errTextMessage, typ)
			}
			s.r = r
		}
		n, err := s.r.Read(p)
		if errors.Is(err, io.EOF) {
			s.r, err = nil, nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write sends p as one binary message.
func (s *wsStream) Write(p []byte) (int, error) {
	if err := s.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
