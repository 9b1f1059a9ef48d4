// Package agent is the fleetgate device agent as a library: it enrolls a
// device with the provisioning service, keeps one MQTT session to the
// broker over mutual TLS, and rotates the device certificate before it
// expires. The device-agent binary is a thin main around it; the fleet
// simulator runs thousands of agents in one process.
//
// # Basics
//
// Fill a Config (DefaultConfig has every default), create the agent with
// New and call Run, which returns only when ctx ends (nil) or the device
// cannot go on by itself:
//
//	cfg := agent.DefaultConfig()
//	cfg.DeviceID, cfg.ProvisioningURL, cfg.Broker = "pump-17", "https://fleet:8443", "fleet:8883"
//	cfg.CAFile, cfg.KeySource, cfg.StateDir = "/etc/device-agent/ca.pem", agent.KeyTPM, "/var/lib/device-agent"
//	a, err := agent.New(cfg)
//	...
//	err = a.Run(ctx) // ErrRevoked, ErrNeedsEnrollment, ErrRefused, ErrClock, ErrState
//
// On first start the agent enrolls: with KeyTPM it proves to the server
// that a new key lives in the TPM (credential activation and Certify by
// the attestation key); with KeySoftware it presents a one-time token.
// The TLS client key is a crypto.Signer (the TPM key never leaves the
// TPM); the broker gets the current certificate through
// GetClientCertificate, so a rotated one is used on the next connection.
//
// The session publishes a retained "online" on devices/<id>/status after
// each connect, sets a retained "offline" Will, and publishes "offline"
// itself at a clean stop. Publish queues messages for devices/<id>/...;
// QoS 1 messages stay queued until the broker acknowledges them, across
// reconnects and rotations. Hooks report enrollment, connections,
// rotations, acknowledgements and received messages.
//
// # Failure handling
//
//   - Broker unreachable, or the connection lost: reconnect after an
//     exponential backoff with jitter between BackoffMin and BackoffMax.
//   - Several brokers (Brokers, sharing one registry): the first attempt
//     goes to a random one of the list, later ones stay on the broker of
//     the last session until it fails, then walk the list in order. A
//     lost session moves to the next broker at once, without backoff
//     (once per stable session); failures after that back off as above.
//     Agent.Broker says which broker the session is on.
//   - Provisioning unreachable or failing (5xx): enrollment and rotation
//     are retried the same way; the current certificate stays in use.
//   - The broker refuses the device (CONNACK "not authorized"): it was
//     revoked or suspended; Run returns ErrRevoked, no reconnect loop.
//   - The certificate expired while the device was off or cut off: a TPM
//     device enrolls again by attestation; a software device needs a fresh
//     token (TokenFile), otherwise Run returns ErrNeedsEnrollment.
//   - A certificate already expired when issued (device clock far ahead):
//     ErrClock, rather than enrolling again and again.
//
// # Rotation
//
// At RotateAt (2/3) of the certificate's lifetime, earlier by a random
// part of RotateJitter, the agent makes a new key (a new TPM key,
// certified by the attestation key kept from enrollment), saves it as
// pending, and asks for its certificate over mTLS with the current one.
// The new state is saved atomically, then the session reconnects with the
// new certificate. A rotation whose reply was lost is repeated with the
// saved key, and the server answers with the certificate it already
// issued.
//
// # Caveats
//
// StateDir survives power cuts at any instant (see StateDir). Without one
// the state lives in memory (MemoryState): fine for a simulator, wrong
// for a device, which would enroll again after every restart. Messages
// still queued when Run returns are lost. Hooks run on the agent's
// goroutines and must not block.
package agent
