package test

import (
	"bufio"
	byteorder "encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Hand-made MQTT 3.1.1 packets: the attack matrix sends bytes no polite
// client would, and reads every packet the broker sends back, so that it
// can tell exactly what was delivered and in which order.

// MQTT control packet types (the high nibble of the first byte).
const (
	pkConnect    = 1
	pkConnack    = 2
	pkPublish    = 3
	pkPuback     = 4
	pkSubscribe  = 8
	pkSuback     = 9
	pkPingreq    = 12
	pkPingresp   = 13
	pkDisconnect = 14
)

// maxReadPacket bounds what the test reads from the broker: the broker's
// own packets are small, and a bogus length must not make the test
// allocate.
const maxReadPacket = 1 << 20

// varint encodes an MQTT Remaining Length.
func varint(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// mqttStr encodes a UTF-8 string with its 16-bit length.
func mqttStr(s string) []byte {
	return append(byteorder.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func packet(first byte, body []byte) []byte {
	return append(append([]byte{first}, varint(len(body))...), body...)
}

// connectOpts describes a CONNECT.
type connectOpts struct {
	id          string
	persistent  bool // clean session off
	willTopic   string
	willPayload string
	willQoS     byte
}

// connectPk builds a 3.1.1 CONNECT with a 60 s keepalive.
func connectPk(o connectOpts) []byte {
	var flags byte
	if !o.persistent {
		flags |= 0x02
	}
	if o.willTopic != "" {
		flags |= 0x04 | o.willQoS<<3
	}
	body := append(mqttStr("MQTT"), 4, flags, 0, 60)
	body = append(body, mqttStr(o.id)...)
	if o.willTopic != "" {
		body = append(body, mqttStr(o.willTopic)...)
		body = append(body, mqttStr(o.willPayload)...)
	}
	return packet(pkConnect<<4, body)
}

// subscribePk subscribes to one filter.
func subscribePk(id uint16, filter string, qos byte) []byte {
	body := byteorder.BigEndian.AppendUint16(nil, id)
	body = append(append(body, mqttStr(filter)...), qos)
	return packet(pkSubscribe<<4|0x02, body)
}

// publishPk builds a PUBLISH; id is ignored at QoS 0.
func publishPk(topic, payload string, qos byte, retain bool, id uint16) []byte {
	first := byte(pkPublish<<4) | qos<<1
	if retain {
		first |= 1
	}
	body := mqttStr(topic)
	if qos > 0 {
		body = byteorder.BigEndian.AppendUint16(body, id)
	}
	return packet(first, append(body, payload...))
}

func pubackPk(id uint16) []byte {
	return packet(pkPuback<<4, byteorder.BigEndian.AppendUint16(nil, id))
}

var (
	disconnectPk = []byte{pkDisconnect << 4, 0}
	pingreqPk    = []byte{pkPingreq << 4, 0}
)

// mqttPacket is one packet read from the broker.
type mqttPacket struct {
	typ   byte
	flags byte
	body  []byte
}

// readMQTT reads one packet.
func readMQTT(r *bufio.Reader) (mqttPacket, error) {
	first, err := r.ReadByte()
	if err != nil {
		return mqttPacket{}, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return mqttPacket{}, err
		}
		n += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		if mult *= 128; i == 3 {
			return mqttPacket{}, errors.New("malformed remaining length from the broker")
		}
	}
	if n > maxReadPacket {
		return mqttPacket{}, fmt.Errorf("broker sent a %d byte packet", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return mqttPacket{}, err
	}
	return mqttPacket{typ: first >> 4, flags: first & 0x0f, body: body}, nil
}

// publishMsg is a decoded PUBLISH.
type publishMsg struct {
	topic, payload string
	qos            byte
	dup, retain    bool
	id             uint16
}

func (p mqttPacket) publish() (publishMsg, error) {
	if p.typ != pkPublish || len(p.body) < 2 {
		return publishMsg{}, fmt.Errorf("not a PUBLISH: type %d", p.typ)
	}
	m := publishMsg{qos: p.flags >> 1 & 3, dup: p.flags&8 != 0, retain: p.flags&1 != 0}
	n := int(byteorder.BigEndian.Uint16(p.body))
	rest := p.body[2:]
	if len(rest) < n {
		return publishMsg{}, errors.New("PUBLISH topic runs past the packet")
	}
	m.topic, rest = string(rest[:n]), rest[n:]
	if m.qos > 0 {
		if len(rest) < 2 {
			return publishMsg{}, errors.New("PUBLISH without packet id")
		}
		m.id, rest = byteorder.BigEndian.Uint16(rest), rest[2:]
	}
	m.payload = string(rest)
	return m, nil
}
