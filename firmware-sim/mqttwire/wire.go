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

// Frame frames a body under a fixed header byte: the header, the
// remaining length, the body. Tests use it to send packets no client
// would.
func Frame(header byte, body []byte) []byte {
	return append(AppendLength([]byte{header}, len(body)), body...)
}

// AppendLength appends n as an MQTT Remaining Length (a variable byte
// integer). It does not check the 268435455 limit: tests send longer ones.
func AppendLength(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// AppendString appends s with its 16-bit length prefix.
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Connect is a CONNECT for MQTT 3.1.1 (protocol level 4).
func Connect(clientID string, keepAlive uint16, clean bool) []byte {
	return ConnectOptions{ClientID: clientID, KeepAlive: keepAlive, Clean: clean}.Packet()
}

// ConnectOptions describe a CONNECT beyond what a load client sends: the
// protocol level and a Will.
type ConnectOptions struct {
	ClientID  string
	KeepAlive uint16
	Clean     bool
	// Level is the protocol level: 4 (3.1.1, the default) or 5. A level 5
	// CONNECT carries empty properties.
	Level byte
	// WillTopic, when set, adds a Will with WillPayload at WillQoS.
	WillTopic, WillPayload string
	WillQoS                byte
}

// Packet encodes the CONNECT.
func (o ConnectOptions) Packet() []byte {
	level := o.Level
	if level == 0 {
		level = 4
	}
	var flags byte
	if o.Clean {
		flags |= 0x02
	}
	if o.WillTopic != "" {
		flags |= 0x04 | o.WillQoS<<3
	}
	b := append(AppendString(nil, "MQTT"), level, flags)
	b = binary.BigEndian.AppendUint16(b, o.KeepAlive)
	if level == 5 {
		b = append(b, 0) // no properties
	}
	b = AppendString(b, o.ClientID)
	if o.WillTopic != "" {
		if level == 5 {
			b = append(b, 0) // no Will properties
		}
		b = AppendString(AppendString(b, o.WillTopic), o.WillPayload)
	}
	return Frame(CONNECT<<4, b)
}

// Connack is a CONNACK with return code rc.
func Connack(rc byte) []byte { return []byte{CONNACK << 4, 2, 0, rc} }

// Publish is a PUBLISH; id is ignored at QoS 0.
func Publish(topic string, qos byte, id uint16, payload []byte) []byte {
	b := AppendString(make([]byte, 0, 4+len(topic)+len(payload)), topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return Frame(PUBLISH<<4|qos<<1, append(b, payload...))
}

// PublishRetained is a PUBLISH with the RETAIN flag set.
func PublishRetained(topic string, qos byte, id uint16, payload []byte) []byte {
	p := Publish(topic, qos, id, payload)
	p[0] |= 0x01
	return p
}

// Puback acknowledges a QoS 1 PUBLISH.
func Puback(id uint16) []byte { return []byte{PUBACK << 4, 2, byte(id >> 8), byte(id)} }

// Subscribe subscribes to one filter.
func Subscribe(id uint16, filter string, qos byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	return Frame(SUBSCRIBE<<4|0x02, append(AppendString(b, filter), qos))
}

// Fixed packets.
var (
	Disconnect = []byte{DISCONNECT << 4, 0}
	Pingreq    = []byte{PINGREQ << 4, 0}
	Pingresp   = []byte{PINGRESP << 4, 0}
)

// QoS is the QoS of a PUBLISH, from its flags.
func (p Packet) QoS() byte { return p.Flags >> 1 & 3 }

// Dup reports the DUP flag of a PUBLISH.
func (p Packet) Dup() bool { return p.Flags&0x08 != 0 }

// Retain reports the RETAIN flag of a PUBLISH.
func (p Packet) Retain() bool { return p.Flags&0x01 != 0 }

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
