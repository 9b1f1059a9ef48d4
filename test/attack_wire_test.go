package test

import (
	"fmt"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// The attack matrix sends bytes no polite client would and reads every
// packet the broker sends back, so that it can tell exactly what was
// delivered and in which order. The packets themselves come from
// mqttwire; this file holds what the matrix adds on top.

// session is the CONNECT a row sends unless it says otherwise: a clean
// session with a 60 s keepalive.
func session(id string) mqttwire.ConnectOptions {
	return mqttwire.ConnectOptions{ClientID: id, KeepAlive: 60, Clean: true}
}

// publishMsg is a decoded PUBLISH, as a connection records it.
type publishMsg struct {
	topic, payload string
	qos            byte
	dup, retain    bool
	id             uint16
}

// decodePublish decodes a PUBLISH with its flags.
func decodePublish(p mqttwire.Packet) (publishMsg, error) {
	if p.Type != mqttwire.PUBLISH {
		return publishMsg{}, fmt.Errorf("not a PUBLISH: type %d", p.Type)
	}
	topic, id, payload, err := mqttwire.ParsePublish(p)
	if err != nil {
		return publishMsg{}, err
	}
	return publishMsg{topic: topic, payload: string(payload), qos: p.QoS(), dup: p.Dup(), retain: p.Retain(), id: id}, nil
}
