// Package mqttwire is the few MQTT 3.1.1 packets a load tool needs,
// written and read by hand: a benchmark client must cost the server the
// same whoever it talks to, and cost its own machine little, so it is not
// a full client library. It also holds the bare server that answers like
// a broker with no broker behind it, the benchmark's reference.
package mqttwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Packet types (the high nibble of the first byte).
const (
	CONNECT    = 1
	CONNACK    = 2
	PUBLISH    = 3
	PUBACK     = 4
	SUBSCRIBE  = 8
	SUBACK     = 9
	PINGREQ    = 12
	PINGRESP   = 13
	DISCONNECT = 14
)

// ErrMalformed is returned for a packet that breaks the encoding rules.
var ErrMalformed = errors.New("mqttwire: malformed packet")

// ErrTooLarge is returned for a packet larger than the reader allows.
var ErrTooLarge = errors.New("mqttwire: packet too large")

// Packet is one read packet.
type Packet struct {
	Type  byte
	Flags byte
	Body  []byte
}

// ReadPacket reads one packet of at most max body bytes.
func ReadPacket(r *bufio.Reader, max int) (Packet, error) {
	h, err := r.ReadByte()
	if err != nil {
		return Packet{}, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return Packet{}, err
		}
		n += int(c&0x7f) * mult
		if c&0x80 == 0 {
			break
		}
		if mult *= 128; i == 3 {
			return Packet{}, ErrMalformed
		}
	}
	if n > max {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Packet{}, err
	}
	return Packet{Type: h >> 4, Flags: h & 0x0f, Body: body}, nil
}

// packet frames a body under a fixed header byte.
func packet(header byte, body []byte) []byte {
	out := []byte{header}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

func str(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Connect is a CONNECT for MQTT 3.1.1 (protocol level 4).
func Connect(clientID string, keepAlive uint16, clean bool) []byte {
	b := str(nil, "MQTT")
	flags := byte(0)
	if clean {
		flags |= 0x02
	}
	b = append(b, 4, flags)
	b = binary.BigEndian.AppendUint16(b, keepAlive)
	return packet(CONNECT<<4, str(b, clientID))
}

// Connack is a CONNACK with return code rc.
func Connack(rc byte) []byte { return []byte{CONNACK << 4, 2, 0, rc} }

// Publish is a PUBLISH; id is ignored at QoS 0.
func Publish(topic string, qos byte, id uint16, payload []byte) []byte {
	b := str(make([]byte, 0, 4+len(topic)+len(payload)), topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return packet(PUBLISH<<4|qos<<1, append(b, payload...))
}

// Puback acknowledges a QoS 1 PUBLISH.
func Puback(id uint16) []byte { return []byte{PUBACK << 4, 2, byte(id >> 8), byte(id)} }

// Subscribe subscribes to one filter.
func Subscribe(id uint16, filter string, qos byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	return packet(SUBSCRIBE<<4|0x02, append(str(b, filter), qos))
}

// Fixed packets.
var (
	Disconnect = []byte{DISCONNECT << 4, 0}
	Pingreq    = []byte{PINGREQ << 4, 0}
	Pingresp   = []byte{PINGRESP << 4, 0}
)

// ParsePublish splits a PUBLISH body; id is 0 at QoS 0.
func ParsePublish(p Packet) (topic string, id uint16, payload []byte, err error) {
	b := p.Body
	if len(b) < 2 {
		return "", 0, nil, ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", 0, nil, ErrMalformed
	}
	topic, b = string(b[2:2+n]), b[2+n:]
	if qos := (p.Flags >> 1) & 3; qos > 0 {
		if len(b) < 2 {
			return "", 0, nil, ErrMalformed
		}
		id, b = binary.BigEndian.Uint16(b), b[2:]
	}
	return topic, id, b, nil
}

// PacketID returns the packet identifier that starts a PUBACK or SUBACK.
func PacketID(p Packet) uint16 {
	if len(p.Body) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(p.Body)
}
