package agent

import "time"

// Hooks are optional callbacks, told what the agent does. They are called
// synchronously from the agent's own goroutines (OnMessage from paho's
// router): they must return quickly and must not call Run. A load simulator
// counts with them; tests wait on them.
type Hooks struct {
	// OnEnrolled: the device got a certificate by enrollment (not rotation).
	OnEnrolled func(Credentials)
	// OnConnectAttempt: a connection to the broker is about to be tried;
	// attempt counts from 1 since the last established session.
	OnConnectAttempt func(attempt int)
	// OnConnected: the broker accepted the session, presenting the
	// certificate with the given serial.
	OnConnected func(serial string)
	// OnDisconnected: the session ended or an attempt failed; err says
	// why, nil when the agent ended it itself (a stop, or the move to a
	// rotated certificate).
	OnDisconnected func(err error)
	// OnRotated: a new certificate replaced the old one; the session moves
	// to it right after.
	OnRotated func(old, new Credentials)
	// OnPublished: the broker acknowledged a QoS 1 message (a QoS 0
	// message: it was written to the connection).
	OnPublished func(topic string)
	// OnMessage: a message arrived on a subscribed topic.
	OnMessage func(topic string, payload []byte)
}

// Credentials describe a certificate the agent holds.
type Credentials struct {
	Serial    string
	NotBefore time.Time
	NotAfter  time.Time
	// Attestation is KeyTPM or KeySoftware: how the key was proven.
	Attestation string
}
