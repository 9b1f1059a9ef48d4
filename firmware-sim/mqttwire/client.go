package mqttwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrRefused is returned by Dial when the server answered CONNECT with a
// non-zero return code.
var ErrRefused = errors.New("mqttwire: CONNACK refused")

// MaxPacket bounds what the client reads.
const MaxPacket = 1 << 20

// Conn is an MQTT connection over TLS that has been accepted.
type Conn struct {
	*tls.Conn
	R *bufio.Reader
	// Handshake is TCP connect plus TLS handshake; Connack is CONNECT
	// written to CONNACK read.
	Handshake, Connack time.Duration
	// KeyExchange is the negotiated group, e.g. X25519MLKEM768.
	KeyExchange string
}

// Dial connects with d, runs the TLS handshake with cfg, sends CONNECT
// for clientID and waits for CONNACK, all within ctx. A refusal returns
// ErrRefused with the code, and closes the connection.
func Dial(ctx context.Context, d *net.Dialer, addr string, cfg *tls.Config, clientID string, keepAlive uint16) (*Conn, error) {
	start := time.Now()
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	c := &Conn{Conn: tc, R: bufio.NewReaderSize(tc, 4096), Handshake: time.Since(start)}
	c.KeyExchange = tc.ConnectionState().CurveID.String()
	mid := time.Now()
	if _, err := tc.Write(Connect(clientID, keepAlive, true)); err != nil {
		tc.Close()
		return nil, err
	}
	p, err := ReadPacket(c.R, MaxPacket)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	c.Connack = time.Since(mid)
	if p.Type != CONNACK || len(p.Body) != 2 {
		tc.Close()
		return nil, fmt.Errorf("%w: got packet type %d instead of CONNACK", ErrMalformed, p.Type)
	}
	if p.Body[1] != 0 {
		tc.Close()
		return nil, fmt.Errorf("%w: code %d", ErrRefused, p.Body[1])
	}
	_ = raw.SetDeadline(time.Time{})
	return c, nil
}

// Close sends DISCONNECT and closes.
func (c *Conn) Close() error {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(Disconnect)
	return c.Conn.Close()
}
