package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/gorilla/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Reasons of a disconnected event (Event.Reason).
const (
	DisconnectClient    = "client"          // the device sent DISCONNECT
	DisconnectKeepalive = "keepalive"       // nothing arrived within 1.5 keepalive periods
	DisconnectRevoked   = "revoked"         // the registry ended the device or certificate; Detail says how
	DisconnectExpired   = "expired"         // the certificate's NotAfter passed
	DisconnectTakenOver = "taken_over"      // a new connection of the device took the session; Detail taken_over_elsewhere when it was on another broker
	DisconnectLimit     = "limit"           // the device went over a broker limit (packet size, receive maximum, queue, publish or byte rate); Detail names it
	DisconnectLost      = "connection_lost" // the connection broke without DISCONNECT
	DisconnectShutdown  = "shutdown"        // the broker is stopping
	DisconnectError     = "error"           // anything else, a protocol error for instance; Detail holds the error
)

// disconnectReason sorts the end of a connected session. The broker's own
// causes come first (a drop closes the socket, which the read loop then
// reports as a closed connection); then the cause mochi recorded when it
// stopped the client; then the error the read loop ended with.
func disconnectReason(cl *mqtt.Client, s *session, readErr error) (reason, detail string) {
	if p := s.dropReason.Load(); p != nil {
		switch *p {
		case reasonExpired:
			return DisconnectExpired, ""
		case reasonTakenOver:
			return DisconnectTakenOver, reasonTakenOver
		}
		return DisconnectRevoked, *p
	}
	if p := s.overLimit.Load(); p != nil {
		return DisconnectLimit, *p // publish_rate or byte_rate (limits.go)
	}
	if s.replaced.Load() || cl.IsTakenOver() {
		return DisconnectTakenOver, ""
	}
	cause := cl.StopCause()
	if cause == nil {
		cause = readErr
	}
	switch {
	case cause == nil, errors.Is(cause, packets.CodeDisconnect), errors.Is(cause, packets.CodeDisconnectWillMessage):
		return DisconnectClient, ""
	case errors.Is(cause, packets.ErrSessionTakenOver):
		return DisconnectTakenOver, ""
	case errors.Is(cause, os.ErrDeadlineExceeded), errors.Is(cause, packets.ErrKeepAliveTimeout):
		return DisconnectKeepalive, ""
	case errors.Is(cause, packets.ErrPacketTooLarge), errors.Is(cause, websocket.ErrReadLimit):
		return DisconnectLimit, "packet_too_large"
	case errors.Is(cause, packets.ErrReceiveMaximum):
		return DisconnectLimit, "receive_maximum"
	case errors.Is(cause, packets.ErrPendingClientWritesExceeded), errors.Is(cause, packets.ErrQuotaExceeded):
		return DisconnectLimit, "quota"
	case errors.Is(cause, packets.ErrServerShuttingDown):
		return DisconnectShutdown, ""
	case errors.Is(cause, io.EOF), errors.Is(cause, io.ErrUnexpectedEOF), errors.Is(cause, syscall.ECONNRESET),
		errors.Is(cause, syscall.EPIPE), errors.Is(cause, net.ErrClosed), isWebSocketClose(cause):
		return DisconnectLost, ""
	}
	return DisconnectError, cause.Error()
}

// isWebSocketClose reports a WebSocket close frame from the client.
func isWebSocketClose(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce)
}
