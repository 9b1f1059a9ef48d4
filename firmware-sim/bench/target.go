package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// Target kinds served by ServeTarget in a child process.
const (
	KindBare  = "bare"
	KindMochi = "mochi"
)

// ServeTarget serves one reference server on addr until ctx ends, and
// writes "ADDR host:port" to ready once it listens. tlsCfg is the same
// policy as the broker's: a client certificate chaining to the device CA
// is required.
func ServeTarget(ctx context.Context, kind, addr string, tlsCfg *tls.Config, ready io.Writer) error {
	switch kind {
	case KindBare:
		ln, err := tls.Listen("tcp", addr, tlsCfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(ready, "ADDR %s\n", ln.Addr())
		go func() { <-ctx.Done(); ln.Close() }()
		serveBare(ln)
		return nil
	case KindMochi:
		// mochi as its README sets it up for mTLS, with its defaults and an
		// allow-all auth hook: the reference for what authentication costs.
		server := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := server.AddHook(new(allowAll), nil); err != nil {
			return err
		}
		l := listeners.NewTCP(listeners.Config{ID: "mtls", Address: addr, TLSConfig: tlsCfg})
		if err := server.AddListener(l); err != nil {
			return err
		}
		if err := server.Serve(); err != nil {
			return err
		}
		fmt.Fprintf(ready, "ADDR %s\n", l.Address())
		<-ctx.Done()
		return server.Close()
	}
	return fmt.Errorf("%w: unknown target kind %q", ErrConfig, kind)
}

// serveBare answers each connection like a broker with one subscriber
// per client, itself: CONNACK to CONNECT, SUBACK to SUBSCRIBE, PUBACK to
// a QoS 1 PUBLISH and the PUBLISH back when the client subscribed,
// PINGRESP to PINGREQ. It is the least an MQTT-over-mTLS server can do,
// in Go, with the broker's TLS policy: the reference for the handshake.
func serveBare(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go bareConn(conn)
	}
}

func bareConn(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReaderSize(conn, 1024)
	w := bufio.NewWriterSize(conn, 1024)
	var mu sync.Mutex
	write := func(b ...[]byte) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range b {
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
		if r.Buffered() > 0 {
			return nil // more input is waiting: answer it in one write
		}
		return w.Flush()
	}
	p, err := mqttwire.ReadPacket(r, mqttwire.MaxPacket)
	if err != nil || p.Type != mqttwire.CONNECT {
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if write(mqttwire.Connack(0)) != nil {
		return
	}
	subscribed := false
	for {
		p, err := mqttwire.ReadPacket(r, mqttwire.MaxPacket)
		if err != nil {
			return
		}
		var out [][]byte
		switch p.Type {
		case mqttwire.SUBSCRIBE:
			subscribed = true
			id := mqttwire.PacketID(p)
			out = append(out, []byte{mqttwire.SUBACK << 4, 3, byte(id >> 8), byte(id), p.Body[len(p.Body)-1]})
		case mqttwire.PUBLISH:
			topic, id, payload, err := mqttwire.ParsePublish(p)
			if err != nil {
				return
			}
			qos := (p.Flags >> 1) & 3
			if qos == 1 {
				out = append(out, mqttwire.Puback(id))
			}
			if subscribed {
				out = append(out, mqttwire.Publish(topic, qos, id, payload))
			}
		case mqttwire.PINGREQ:
			out = append(out, mqttwire.Pingresp)
		case mqttwire.DISCONNECT:
			return
		}
		if len(out) > 0 && write(out...) != nil {
			return
		}
	}
}

// allowAll lets every client in and allows everything, as mochi's own
// auth.AllowHook does (not imported: it pulls in a YAML parser). It exists
// only in the plain-mochi reference process, never next to the broker's
// hook.
type allowAll struct{ mqtt.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
