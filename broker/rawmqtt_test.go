package broker

import (
	"encoding/binary"
	"io"
)

// Hand-written MQTT packets, for tests that need bytes paho would never
// send and for the benchmark's minimal client.

// remainingLength encodes an MQTT variable byte integer.
func remainingLength(n int) []byte {
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

// mqttString encodes a UTF-8 string with its 16-bit length.
func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// connectPacket builds a clean-session CONNECT with a 60 s keepalive for
// protocol level 4 (3.1.1) or 5.
func connectPacket(level byte, clientID string) []byte {
	body := append(mqttString("MQTT"), level, 0x02, 0, 60)
	if level == 5 {
		body = append(body, 0) // no properties
	}
	body = append(body, mqttString(clientID)...)
	return append(append([]byte{0x10}, remainingLength(len(body))...), body...)
}

func connectV3(clientID string) []byte { return connectPacket(4, clientID) }

// connectWithWill builds a 3.1.1 clean-session CONNECT carrying a QoS 0
// Will.
func connectWithWill(clientID, willTopic, willPayload string) []byte {
	body := append(mqttString("MQTT"), 4, 0x06, 0, 60)
	body = append(body, mqttString(clientID)...)
	body = append(body, mqttString(willTopic)...)
	body = append(body, mqttString(willPayload)...)
	return append(append([]byte{0x10}, remainingLength(len(body))...), body...)
}
func connectV5(clientID string) []byte { return connectPacket(5, clientID) }

// disconnectPacket is an MQTT 3.1.1 DISCONNECT.
var disconnectPacket = []byte{0xe0, 0}

func readFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }
